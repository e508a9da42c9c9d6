#!/usr/bin/env bash
# smoke.sh IMAGE
#
# The sandbox in one line, as an SDK author runs it: starts IMAGE with its default command and
# only FACEMATCH_SANDBOX_KEY set, waits for /readyz, and runs the plain-Python client
# (tools/sandbox/client.py) against it. Prints the time from `docker run` to ready; removes the
# container whatever happens. Run by `make sandbox-smoke` (part of `make test`).
set -euo pipefail

image=${1:?usage: smoke.sh IMAGE}
here=$(cd "$(dirname "$0")" && pwd)
key=fm_sandbox_$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')_$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')

start=$(date +%s%N)
id=$(docker run -d --rm -p 127.0.0.1::8080 -e FACEMATCH_SANDBOX_KEY="$key" "$image")
trap 'docker rm -f "$id" >/dev/null 2>&1 || true' EXIT
port=$(docker port "$id" 8080/tcp | head -n1 | sed 's/.*://')
url=http://127.0.0.1:$port

for _ in $(seq 1 500); do
	if python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$url/readyz" 2>/dev/null; then
		ready=$(date +%s%N)
		break
	fi
	if ! docker inspect "$id" >/dev/null 2>&1; then
		echo "smoke.sh: the container stopped" >&2
		exit 1
	fi
	sleep 0.02
done
if [ -z "${ready:-}" ]; then
	echo "smoke.sh: not ready after 10s; its log:" >&2
	docker logs "$id" >&2
	exit 1
fi
echo "sandbox ready $(((ready - start) / 1000000)) ms after docker run ($image)"

FACEMATCH_URL=$url FACEMATCH_KEY=$key python3 "$here/client.py" >/dev/null || { docker logs "$id" >&2; exit 1; }
echo "python urllib client: sandbox answered 200 Approved, 403 without a key"
