"""Seeds the bench server and writes wrk input files (one `token<TAB>path`
or login body a line). Standard library only."""
import glob, json, quopri, re, ssl, subprocess, sys, urllib.request

base, work, pw, binary, *args = sys.argv[1:]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req, context=ctx) as r:
        return json.loads(r.read() or b"null")

def invite_token(email):
    for path in sorted(glob.glob(f"{work}/data/outbox/*.eml"), reverse=True):
        text = quopri.decodestring(open(path, "rb").read()).decode("utf-8", "replace")
        if f"To: {email}" in text:
            return re.search(r"accept-invite\?token=([A-Za-z0-9_-]+)", text).group(1)
    raise SystemExit(f"no invitation for {email}")

def company(name, owner):
    cid = subprocess.check_output([binary, *args, "company", "create", "--name", name,
                                   "--owner-email", owner], text=True).strip()
    call("POST", "/api/v1/auth/accept-invite", {"token": invite_token(owner), "password": pw, "name": "Bench"})
    return cid, call("POST", "/api/v1/auth/login", {"email": owner, "password": pw})["token"]

cid_a, tok_a = company("Bench A", "a@bench.test")
cid_b, tok_b = company("Bench B", "b@bench.test")
users = []
for i in range(20):
    email = f"m{i}@bench.test"
    call("POST", f"/api/v1/companies/{cid_a}/members", {"email": email, "role": "member"}, tok_a)
    call("POST", "/api/v1/auth/accept-invite", {"token": invite_token(email), "password": pw, "name": f"M{i}"})
    users.append((email, call("POST", "/api/v1/auth/login", {"email": email, "password": pw})["token"]))
with open(f"{work}/me.txt", "w") as f:
    for _, t in users:
        f.write(f"{t}\t/api/v1/me\n")
with open(f"{work}/view.txt", "w") as f:
    for _, t in users:
        f.write(f"{t}\t/api/v1/companies/{cid_a}\n")
with open(f"{work}/denied.txt", "w") as f:
    for _, t in users:
        f.write(f"{t}\t/api/v1/companies/{cid_b}\n")
with open(f"{work}/login.txt", "w") as f:
    for email, _ in users:
        f.write(json.dumps({"email": email, "password": pw}) + "\n")
