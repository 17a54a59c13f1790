"""Signs in the seeded members and writes wrk input files (`token<TAB>path`
a line) for the content cases. Standard library only."""
import json, random, ssl, sys, urllib.parse, urllib.request

base, seed_file, work = sys.argv[1:]
seed = json.load(open(seed_file))
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

def login(email):
    req = urllib.request.Request(base + "/api/v1/auth/login", method="POST",
                                 data=json.dumps({"email": email, "password": seed["password"]}).encode())
    req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req, context=ctx) as r:
        return json.loads(r.read())["token"]

tokens = [login(e) for e in seed["member_emails"][:20]]
rng = random.Random(42)
def write(name, paths):
    with open(f"{work}/{name}.txt", "w") as f:
        for p in paths:
            f.write(f"{rng.choice(tokens)}\t{p}\n")
write("doc", [f"/api/v1/documents/{d}" for d in seed["documents"]])
write("list", [f"/api/v1/folders/{f}/children?limit=50" for f in seed["folders"]])
write("search", [f"/api/v1/search?q={urllib.parse.quote(w)}" for w in seed["search_words"] for _ in range(10)])
