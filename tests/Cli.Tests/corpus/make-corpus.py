#!/usr/bin/env python3
"""Writes the malformed-input corpus of the analyze CLI (see README.md); run from this folder.

Every file is small and deterministic. Inputs that are large or endless (/dev/zero, a 1 GiB line, pipes) are made by
EndlessInputTests at run time and are not committed.
"""
import random

H = "%%MatrixMarket matrix coordinate real general\n"
files = {}


def text(name, content):
    files[name] = content.encode("utf-8")


def raw(name, content):
    files[name] = content


# --- valid but degenerate: exit 0 with the exact answer -------------------------------------------------------------
text("zero-3x3.mtx", H + "3 3 0\n")
text("zero-600x600.mtx", H + "600 600 0\n")
text("zero-array-3x3.mtx", "%%MatrixMarket matrix array real general\n3 3\n" + "0\n" * 9)
text("duplicates-cancel.mtx", H + "3 3 4\n1 2 1e300\n1 2 -1e300\n3 3 0.5\n3 3 -0.5\n")
text("duplicates-sum.mtx", "%%MatrixMarket matrix coordinate integer general\n2 2 4\n1 2 5\n1 2 -2\n2 2 7\n1 1 1\n")
text("huge-1e200-jordan.mtx", H + "2 2 3\n1 1 1e200\n1 2 1e200\n2 2 1e200\n")
text("huge-1e308-diagonal.mtx", H + "2 2 2\n1 1 1e308\n2 2 -1e308\n")
text("huge-1e308-full.mtx", H + "2 2 4\n1 1 1e308\n1 2 1e308\n2 1 1e308\n2 2 1e308\n")
text("huge-duplicates-overflow.mtx", H + "1 1 2\n1 1 1e308\n1 1 1e308\n")
text("huge-nilpotent-1e100.mtx", H + "2 2 1\n1 2 1e100\n")
text("huge-and-tiny-diagonal.mtx", H + "2 2 2\n1 1 1e300\n2 2 1e-300\n")
text("tiny-1e-300-jordan.mtx", H + "2 2 3\n1 1 1e-300\n1 2 1e-300\n2 2 1e-300\n")
text("subnormal-diagonal.mtx", H + "2 2 2\n1 1 4e-320\n2 2 -2e-320\n")
text("one-by-one.mtx", H + "1 1 1\n1 1 5\n")
text("one-by-one-negative.mtx", "%%MatrixMarket matrix array real general\n1 1\n-0.5\n")
text("pattern-jordan.mtx", "%%MatrixMarket matrix coordinate pattern general\n2 2 3\n1 1\n1 2\n2 2\n")
text("pattern-symmetric-path.mtx", "%%MatrixMarket matrix coordinate pattern symmetric\n3 3 2\n2 1\n3 2\n")
text("skew-symmetric-coordinate.mtx", "%%MatrixMarket matrix coordinate real skew-symmetric\n2 2 1\n2 1 2\n")
text("skew-symmetric-array.mtx", "%%MatrixMarket matrix array real skew-symmetric\n3 3\n0.3\n0\n0.4\n")
text("symmetric-coordinate.mtx", "%%MatrixMarket matrix coordinate real symmetric\n2 2 3\n1 1 2\n2 1 1\n2 2 2\n")
text("symmetric-array.mtx", "%%MatrixMarket matrix array real symmetric\n2 2\n0.5\n0.1\n0.5\n")
INTEGER = "%%MatrixMarket matrix coordinate integer general\n2 2 3\n1 1 1\n1 2 2\n2 2 -3\n"
text("integer-field.mtx", INTEGER)
raw("crlf-line-endings.mtx", INTEGER.replace("\n", "\r\n").encode())
raw("cr-line-endings.mtx", INTEGER.replace("\n", "\r").encode())
raw("utf8-bom.mtx", b"\xef\xbb\xbf" + "%%MatrixMarket matrix coordinate real symmetric\n2 2 3\n1 1 2\n2 1 1\n2 2 2\n".encode())
text("comments-in-odd-places.mtx",
     "%%MatrixMarket matrix coordinate real general\n"
     "%\n% a comment before the size line\n\n   % an indented comment\n"
     "  2\t2   3  \n"
     "% between entries\n1\t1\t0.5\n\n   \n1 2 .5\n%%MatrixMarket looks like a header but is a comment here\n"
     "\t2 2 2.5e-1\n% after the last entry\n\n")
text("uppercase-keywords.mtx", "%%MATRIXMARKET MATRIX COORDINATE REAL GENERAL\n2 2 2\n1 1 0.5\n2 2 0.25\n")
text("integer-beyond-64-bits.mtx", "%%MatrixMarket matrix coordinate integer general\n1 1 1\n1 1 123456789012345678901234567890\n")
text("number-forms.mtx", H + "2 2 3\n1 1 +1.5E+0\n2 2 -.25\n1 2 0e0\n")
text("nonnormal-kreiss.mtx", H + "2 2 3\n1 1 0.5\n1 2 2\n2 2 0.5\n")
lines = []
top = {595: 0.45, 596: 0.5, 597: 0.6, 598: 0.7, 599: 0.8, 600: 0.9}
for i in range(1, 601):
    lines.append("%d %d %r\n" % (i, i, top.get(i, 0.3 * i / 600)))
text("diagonal-600-krylov.mtx", H + "600 600 600\n" + "".join(lines))
text("one-entry-46341-krylov.mtx", H + "46341 46341 1\n1 2 3\n")

# --- refused: exit 2 with one line -----------------------------------------------------------------------------------
text("empty.mtx", "")
text("whitespace-only.mtx", "   \n\n")
text("header-only.mtx", H)
text("header-truncated.mtx", "%%MatrixMarket matrix coord")
text("banner-single-percent.mtx", "%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 1\n")
text("comment-before-banner.mtx", "% a comment\n" + H + "2 2 1\n1 1 1\n")
text("header-extra-token.mtx", "%%MatrixMarket matrix coordinate real general extra\n2 2 1\n1 1 1\n")
text("object-vector.mtx", "%%MatrixMarket vector coordinate real general\n2 2 1\n1 1 1\n")
text("format-unknown.mtx", "%%MatrixMarket matrix sparse real general\n2 2 1\n1 1 1\n")
text("field-complex.mtx", "%%MatrixMarket matrix coordinate complex general\n2 2 1\n1 1 1 0\n")
text("hermitian-complex.mtx", "%%MatrixMarket matrix coordinate complex hermitian\n2 2 1\n2 1 1 1\n")
text("hermitian-real.mtx", "%%MatrixMarket matrix coordinate real hermitian\n2 2 1\n2 1 1\n")
text("array-pattern.mtx", "%%MatrixMarket matrix array pattern general\n2 2\n")
text("pattern-skew-symmetric.mtx", "%%MatrixMarket matrix coordinate pattern skew-symmetric\n2 2 1\n2 1\n")
text("size-line-missing-count.mtx", H + "3 3\n1 1 1\n")
text("size-line-extra-number.mtx", H + "3 3 1 1\n1 1 1\n")
text("size-line-float.mtx", H + "3.0 3.0 1\n1 1 1\n")
text("size-not-square.mtx", H + "2 3 1\n1 1 1\n")
text("size-zero.mtx", H + "0 0 0\n")
text("size-negative.mtx", H + "-3 -3 1\n1 1 1\n")
text("size-billion-78-bytes.mtx", H + "1000000000 1000000000 1\n1 1 1.0\n")
text("size-beyond-64-bits.mtx", H + "99999999999999999999 99999999999999999999 1\n1 1 1\n")
text("dense-46341.mtx", H + "46341 46341 1\n1 1 1\n")
text("entries-over-limit.mtx", H + "100000 100000 20000000\n1 1 1\n")
text("entries-too-few.mtx", H + "2 2 3\n1 1 1\n2 2 1\n")
text("entries-too-many.mtx", H + "2 2 1\n1 1 1\n2 2 1\n")
text("array-too-few.mtx", "%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n")
text("array-too-many.mtx", "%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n4\n5\n")
text("array-two-values-per-line.mtx", "%%MatrixMarket matrix array real general\n2 2\n1 2\n3 4\n")
text("value-nan.mtx", H + "2 2 1\n1 1 NaN\n")
text("value-infinity.mtx", H + "2 2 1\n1 1 -Infinity\n")
text("value-overflow-1e400.mtx", H + "2 2 1\n1 1 1e400\n")
text("value-hex.mtx", H + "2 2 1\n1 1 0x1p3\n")
text("value-decimal-comma.mtx", H + "2 2 1\n1 1 1,5\n")
text("index-zero.mtx", H + "2 2 1\n0 1 1\n")
text("index-negative.mtx", H + "2 2 1\n-1 1 1\n")
text("index-too-large.mtx", H + "2 2 1\n1 3 1\n")
text("index-not-integer.mtx", H + "2 2 1\n1.5 1 1\n")
text("index-beyond-64-bits.mtx", H + "2 2 1\n99999999999999999999 1 1\n")
text("entry-missing-value.mtx", H + "2 2 1\n1 1\n")
text("entry-extra-field.mtx", H + "2 2 1\n1 1 1 0\n")
text("entry-inline-comment.mtx", H + "2 2 1\n1 1 2.0 % a trailing comment\n")
text("pattern-with-value.mtx", "%%MatrixMarket matrix coordinate pattern general\n2 2 1\n1 1 1\n")
text("symmetric-upper-entry.mtx", "%%MatrixMarket matrix coordinate real symmetric\n2 2 1\n1 2 1\n")
text("skew-symmetric-upper-entry.mtx", "%%MatrixMarket matrix coordinate real skew-symmetric\n2 2 1\n1 2 1\n")
text("skew-symmetric-diagonal.mtx", "%%MatrixMarket matrix coordinate real skew-symmetric\n2 2 1\n1 1 1\n")
text("integer-with-decimal.mtx", "%%MatrixMarket matrix coordinate integer general\n2 2 1\n1 1 2.5\n")
raw("crlf-bad-entry.mtx", (H + "% comment\n2 2 2\n1 1 1\n2 2 x\n").replace("\n", "\r\n").encode())
text("long-line.mtx", H + "2 2 1\n1 1 " + "1" * 2000 + "\n")
text("ansi-escape-in-header.mtx", "%%MatrixMarket matrix \x1b[31mcoordinate\x1b[0m real general\n2 2 1\n1 1 1\n")
raw("utf16le.mtx", b"\xff\xfe" + (H + "2 2 1\n1 1 1\n").encode("utf-16-le"))
rng = random.Random(20240614)
raw("binary-garbage.mtx", bytes([0x89, 0x50, 0x4e, 0x47]) + bytes(rng.randrange(256) for _ in range(508)))
raw("binary-after-size-line.mtx", (H + "2 2 1\n").encode() + bytes(range(256)))
text("huge-nilpotent-1e200.mtx", H + "2 2 1\n1 2 1e200\n")

for name, content in files.items():
    with open(name, "wb") as f:
        f.write(content)
print(len(files), "files")
