#!/usr/bin/env bash
# stage.sh BINARY MODELS_DIR OUT_DIR
#
# Lays out OUT_DIR/rootfs, the whole file system of the facematch image, so that the Dockerfile
# can build it FROM scratch with nothing pulled: the binary, every shared library ldd lists (the
# transitive closure, symlinks resolved) and the dynamic loader, the models (a symlink that stays
# inside the models folder is kept, anything else is copied), CA certificates for https webhooks,
# a passwd entry for the unprivileged user 65532, /tmp and an empty /data.
#
# Every staged file gets the same modification time (SOURCE_DATE_EPOCH, default 0), so the
# context, and its content hash printed on stdout, depends only on what is in it.
set -euo pipefail

bin=$1 models=$2 out=$3
epoch=${SOURCE_DATE_EPOCH:-0}
uid=65532

[ -x "$bin" ] || { echo "stage.sh: $bin is missing (make build)" >&2; exit 1; }
for f in "$models"/*.dat; do [ -e "$f" ] || { echo "stage.sh: no models in $models (make models)" >&2; exit 1; }; done

rm -rf "$out"
root=$out/rootfs
mkdir -p "$root"/lib/x86_64-linux-gnu "$root"/lib64 "$root"/models "$root"/etc/ssl/certs "$root"/tmp "$out"/data
cp -L "$bin" "$root"/facematch

# ldd prints the closure: "libx.so.N => /path (addr)" and the loader as "/lib64/ld-linux... (addr)".
libs=$(ldd "$bin")
if grep -q "not found" <<<"$libs"; then echo "stage.sh: unresolved libraries:" >&2; grep "not found" <<<"$libs" >&2; exit 1; fi
while read -r name arrow path _; do
	case "$arrow" in
	"=>") [ -n "$path" ] && cp -L "$path" "$root/lib/x86_64-linux-gnu/$name" ;;
	*) case "$name" in /*ld-linux*) cp -L "$name" "$root/lib64/$(basename "$name")" ;; esac ;;
	esac
done <<<"$libs"
[ -e "$root"/lib64/ld-linux-x86-64.so.2 ] || { echo "stage.sh: no dynamic loader in ldd output" >&2; exit 1; }

for f in "$models"/*; do
	base=$(basename "$f")
	case "$base" in README.md | SHA256SUMS) continue ;; esac
	if [ -L "$f" ]; then
		target=$(readlink "$f")
		if [[ "$target" != */* && -e "$models/$target" ]]; then
			ln -s "$target" "$root/models/$base" # stays inside the folder: no second copy
			continue
		fi
	fi
	cp -L "$f" "$root/models/$base"
done

if [ -e /etc/ssl/certs/ca-certificates.crt ]; then cp -L /etc/ssl/certs/ca-certificates.crt "$root"/etc/ssl/certs/; fi
printf 'root:x:0:0:root:/:/sbin/nologin\nfacematch:x:%d:%d:facematch:/data:/sbin/nologin\n' $uid $uid >"$root"/etc/passwd
printf 'root:x:0:\nfacematch:x:%d:\n' $uid >"$root"/etc/group
printf 'hosts: files dns\n' >"$root"/etc/nsswitch.conf

chmod 0755 "$root"/facematch
chmod 1777 "$root"/tmp
find "$out" -exec touch -h -d "@$epoch" {} +

# The content hash names the image: same inputs, same tag.
(cd "$out" && tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner -cf - rootfs data) | sha256sum | cut -c1-12
