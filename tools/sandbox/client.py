#!/usr/bin/env python3
"""A Face Match client in plain Python (urllib, no third-party package), as an SDK author's test
would call the sandbox: a multipart POST of two images to /v3/face-match/.

    FACEMATCH_URL=http://127.0.0.1:8080 FACEMATCH_KEY=fm_sandbox_... python3 client.py

It makes its two images itself (small PNGs), checks the sandbox's answer (200, Approved, the
vendor_data sent comes back) and that a request without a key is refused with 403, and prints
the answer. It exits 1 on any other outcome.
"""
import json
import os
import struct
import sys
import urllib.error
import urllib.request
import uuid
import zlib


def png(width, height, rgb):
    """A solid-colour PNG image of width x height pixels."""
    row = b"\x00" + bytes(rgb) * width
    raw = zlib.compress(row * height)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def multipart(fields, files):
    """The body and content type of a multipart/form-data request."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content_type, data) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n".encode() + data + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def face_match(base, key, vendor_data):
    body, content_type = multipart(
        {"vendor_data": vendor_data},
        {
            "user_image": ("user.png", "image/png", png(64, 64, (200, 150, 120))),
            "ref_image": ("ref.png", "image/png", png(48, 64, (190, 140, 110))),
        },
    )
    headers = {"Content-Type": content_type}
    if key:
        headers["x-api-key"] = key
    req = urllib.request.Request(base.rstrip("/") + "/v3/face-match/", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status, json.load(res)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def main():
    base, key = os.environ["FACEMATCH_URL"], os.environ["FACEMATCH_KEY"]
    status, answer = face_match(base, key, "python-urllib")
    if status != 200 or answer["face_match"]["status"] != "Approved" or answer["vendor_data"] != "python-urllib":
        print(f"sandbox call: {status} {answer}", file=sys.stderr)
        return 1
    status, refused = face_match(base, "", "no-key")
    if status != 403:
        print(f"call without a key: {status} {refused}", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
