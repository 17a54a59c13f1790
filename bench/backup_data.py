"""Prepares and changes the data of bench/backup.sh through the HTTP API
(standard library only):

  attach BASE SEED N BYTES   uploads N files of BYTES random bytes to the
                             seed's documents (as its members)
  change BASE SEED PERCENT   edits PERCENT % of the seed's 1,000,000
                             documents' titles (from the ids it lists:
                             cycling through them), prints how many
  trash BASE SEED            moves one document to the trash, prints its id
"""
import json, os, ssl, sys, threading, urllib.error, urllib.request

cmd, base, seed_file = sys.argv[1:4]
seed = json.load(open(seed_file))
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def call(method, path, token, body=None, ctype="application/json"):
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    req = urllib.request.Request(base + path, method=method, data=data)
    if data is not None:
        req.add_header("content-type", ctype)
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req, context=ctx, timeout=120) as r:
        text = r.read()
        return json.loads(text) if text else None


def login(email):
    return call("POST", "/api/v1/auth/login", None,
                {"email": email, "password": seed["password"]})["token"]


def parallel(items, work, threads=4):
    tokens = [login(e) for e in seed["member_emails"][:threads]]
    chunks = [items[i::threads] for i in range(threads)]
    done = [0] * threads

    def run(i):
        for item in chunks[i]:
            work(tokens[i], item)
            done[i] += 1

    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(done)


if cmd == "attach":
    n, size = int(sys.argv[4]), int(sys.argv[5])
    boundary = "turva-bench-7f3a9c2e"

    def upload(token, i):
        doc = seed["documents"][i % len(seed["documents"])]
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"liite{i}.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
        body = head + os.urandom(size) + f"\r\n--{boundary}--\r\n".encode()
        call("POST", f"/api/v1/documents/{doc}/files", token, body,
             f"multipart/form-data; boundary={boundary}")

    print(parallel(list(range(n)), upload))
elif cmd == "change":
    percent = float(sys.argv[4])
    n = int(1_000_000 * percent / 100)
    docs = seed["documents"]

    def edit(token, i):
        did = docs[i % len(docs)]
        d = call("GET", f"/api/v1/documents/{did}", token)
        call("PATCH", f"/api/v1/documents/{did}", token,
             {"title": d["title"] + " (muutettu)", "version": d["version"]})

    print(parallel(list(range(min(n, len(docs)))), edit))
elif cmd == "trash":
    # The last listed document not yet in the trash (a rerun finds the
    # earlier run's there).
    token = login(seed["member_emails"][0])
    for did in reversed(seed["documents"]):
        try:
            call("DELETE", f"/api/v1/documents/{did}", token)
        except urllib.error.HTTPError:
            continue
        print(did)
        break
else:
    sys.exit(f"unknown command {cmd}")
