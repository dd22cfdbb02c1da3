# Interop check run by interop.test.ts with /usr/bin/python3 against our
# daemon (XENSTORED_PATH): pyxs is a client that does not use libxenstore.
import os, sys
from pyxs import Client, PyXSError

path = os.environ["XENSTORED_PATH"]
out = []
with Client(unix_socket_path=path) as c:
    c[b"/py/a"] = b"1"
    out.append(c[b"/py/a"])
    c.mkdir(b"/py/dir")
    out.append(b",".join(sorted(c.list(b"/py"))))
    c.set_perms(b"/py/a", [b"b0", b"r5"])
    out.append(b",".join(c.get_perms(b"/py/a")))
    out.append(b"T" if c.exists(b"/py/a") else b"F")
    out.append(c.get_domain_path(0))
    out.append(b"T" if c.is_domain_introduced(0) else b"F")
    try:
        c.read(b"/py/missing")
    except PyXSError as e:
        out.append(b"err%d" % e.args[0])
    c.transaction()
    c[b"/py/t"] = b"in-tx"
    c.commit()
    out.append(c[b"/py/t"])
    with c.monitor() as m:
        m.watch(b"/py", b"tok")
        first = next(m.wait())
        c[b"/py/w"] = b"x"
        second = next(m.wait())
        out.append(first[0] + b"|" + first[1] + b"|" + second[0])
    c.delete(b"/py")
    out.append(b"T" if c.exists(b"/py") else b"F")
sys.stdout.write(" ".join(x.decode() for x in out) + "\n")
