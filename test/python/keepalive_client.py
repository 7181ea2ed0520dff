"""Calls `ping` twice on one ServerProxy with an idle pause between, as a polling clearinghouse does.

Python 2.7 (xmlrpclib) and Python 3 (xmlrpc.client), standard library only. Both keep the HTTP connection open
between calls and retry once when the kept connection turns out closed, but only for a clean close (their
"cold connection" logic); an abrupt close surfaces as an SSL EOF error.

usage: keepalive_client.py URL CA_FILE IDLE_SECONDS
prints one line per call: "ok <answer>" or "error <exception class>: <message>"; exits 0 when both calls worked.
"""
import ssl
import sys
import time

try:
    import xmlrpc.client as xmlrpclib
except ImportError:  # Python 2.7
    import xmlrpclib


def main():
    url, ca_file, idle = sys.argv[1], sys.argv[2], float(sys.argv[3])
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = False
    proxy = xmlrpclib.ServerProxy(url, context=context)
    failures = 0
    for i in range(2):
        if i:
            time.sleep(idle)
        try:
            print("ok %s" % proxy.ping("call-%d" % i))
        except Exception as e:  # report any failure as a line; the test reads it
            failures += 1
            print("error %s: %s" % (e.__class__.__name__, e))
        sys.stdout.flush()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
