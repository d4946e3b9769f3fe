#!/usr/bin/env bash
# it_keygen.sh - fl-keygen as a site administrator runs it: key files and
# their modes, the printed roster entry, refusal to overwrite, usage errors,
# and roster generation.  (That fl_roster_load accepts the generated roster
# is checked in test_roster.c.)
set -euo pipefail

KEYGEN="${FL_BINARY_DIR:-build}/bin/fl-keygen"
[[ -x "$KEYGEN" ]] || { echo "it_keygen: $KEYGEN not built" >&2; exit 1; }
WORK="$(mktemp -d /tmp/fl-it-keygen-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
fail() { echo "it_keygen: FAIL: $*" >&2; exit 1; }
mode() { stat -c '%a' "$1"; }

# --help works and mentions the options
"$KEYGEN" --help | grep -q -- '--roster' || fail "--help does not describe --roster"

# 1. a member's keys, with a permissive umask: secrets must still be 0600
(umask 022; "$KEYGEN" --out "$WORK/keys" --name hospital-01 >"$WORK/entry.txt" 2>"$WORK/err.txt") \
    || fail "keygen for hospital-01 failed: $(cat "$WORK/err.txt")"
for f in identity identity_secret curve curve_secret; do
    [[ -s "$WORK/keys/hospital-01.$f" ]] || fail "missing hospital-01.$f"
done
[[ "$(mode "$WORK/keys/hospital-01.identity_secret")" == 600 ]] || fail "identity_secret mode $(mode "$WORK/keys/hospital-01.identity_secret")"
[[ "$(mode "$WORK/keys/hospital-01.curve_secret")" == 600 ]] || fail "curve_secret mode $(mode "$WORK/keys/hospital-01.curve_secret")"
[[ "$(mode "$WORK/keys/hospital-01.identity")" == 644 ]] || fail "identity mode"
[[ "$(mode "$WORK/keys/hospital-01.curve")" == 644 ]] || fail "curve mode"
[[ "$(mode "$WORK/keys")" == 700 ]] || fail "key directory mode $(mode "$WORK/keys")"

# the printed entry carries exactly the public keys from the files
grep -q '^    member = "hospital-01"$' "$WORK/entry.txt" || fail "entry header: $(cat "$WORK/entry.txt")"
pub_hex="$(tr -d '\n' <"$WORK/keys/hospital-01.identity")"
[[ "$pub_hex" =~ ^[0-9a-f]{64}$ ]] || fail "identity file is not 64 hex chars"
grep -q "identity = \"$pub_hex\"" "$WORK/entry.txt" || fail "entry identity differs from the file"
curve_pub="$(sed -n 's/^ *public-key = "\(.*\)"$/\1/p' "$WORK/keys/hospital-01.curve")"
[[ ${#curve_pub} -eq 40 ]] || fail "curve public key is not 40 chars"
grep -qF "curve = \"$curve_pub\"" "$WORK/entry.txt" || fail "entry curve key differs from the certificate"
# the public certificate must not contain the secret key; the secret one must
grep -q 'secret-key' "$WORK/keys/hospital-01.curve" && fail "public certificate contains a secret key"
grep -q 'secret-key' "$WORK/keys/hospital-01.curve_secret" || fail "secret certificate lacks the secret key"
# the identity secret is 128 hex chars whose second half is the public key
sec_hex="$(tr -d '\n' <"$WORK/keys/hospital-01.identity_secret")"
[[ "$sec_hex" =~ ^[0-9a-f]{128}$ ]] || fail "identity_secret is not 128 hex chars"
[[ "${sec_hex:64}" == "$pub_hex" ]] || fail "identity_secret public half differs"

# 2. refuses to overwrite: non-zero exit, clear message, files unchanged
before="$(sha256sum "$WORK"/keys/hospital-01.* )"
if "$KEYGEN" --out "$WORK/keys" --name hospital-01 >/dev/null 2>"$WORK/err.txt"; then
    fail "second keygen for hospital-01 succeeded"
fi
grep -q 'refusing to overwrite' "$WORK/err.txt" || fail "no overwrite message: $(cat "$WORK/err.txt")"
[[ "$(sha256sum "$WORK"/keys/hospital-01.*)" == "$before" ]] || fail "key files changed"
# even if only one of the four files exists
touch "$WORK/keys/lab-02.curve_secret"
if "$KEYGEN" --out "$WORK/keys" --name lab-02 >/dev/null 2>&1; then fail "overwrote lab-02.curve_secret"; fi
[[ ! -e "$WORK/keys/lab-02.identity" ]] || fail "partial keys left behind for lab-02"

# 3. coordinator entry
"$KEYGEN" --out "$WORK/keys" --coordinator --endpoint tcp://coord.example:5555 >"$WORK/coord.txt" 2>/dev/null \
    || fail "coordinator keygen failed"
grep -q '^    coordinator$' "$WORK/coord.txt" || fail "no coordinator header"
grep -q 'endpoint = "tcp://coord.example:5555"' "$WORK/coord.txt" || fail "no endpoint"
[[ -e "$WORK/keys/coordinator.identity_secret" ]] || fail "coordinator keys not named coordinator.*"

# 4. usage errors exit 2 and write nothing
for args in "--name x" "--out $WORK/u" "--out $WORK/u --name 'bad name'" "--out $WORK/u --name ../x" \
            "--out $WORK/u --roster $WORK/r --members 0" "--out $WORK/u --roster $WORK/r --members 70000" \
            "--out $WORK/u --roster $WORK/r" "--out $WORK/u --name a --members 3" "--bogus"; do
    set +e
    eval "\"$KEYGEN\" $args" >/dev/null 2>&1
    rc=$?
    set -e
    [[ $rc -eq 2 ]] || fail "'fl-keygen $args' exited $rc, expected 2"
done
[[ ! -e "$WORK/u" && ! -e "$WORK/x.identity" ]] || fail "usage error wrote files"

# 5. roster generation, then refusal to overwrite the roster
"$KEYGEN" --out "$WORK/sim" --roster "$WORK/sim/roster.zpl" --members 3 2>/dev/null || fail "roster generation"
[[ "$(grep -c '^    member = "member-0[1-3]"$' "$WORK/sim/roster.zpl")" -eq 3 ]] || fail "roster members"
grep -q '^    coordinator$' "$WORK/sim/roster.zpl" || fail "roster coordinator"
for f in "$WORK"/sim/*_secret; do [[ "$(mode "$f")" == 600 ]] || fail "$f mode $(mode "$f")"; done
if "$KEYGEN" --out "$WORK/sim2" --roster "$WORK/sim/roster.zpl" --members 2 >/dev/null 2>"$WORK/err.txt"; then
    fail "roster overwritten"
fi
grep -q 'refusing to overwrite' "$WORK/err.txt" || fail "no roster overwrite message"

# 6. entry files, roster merge and roster add (docs/SECURITY.md, "Making the roster")
E="$WORK/entries"
"$KEYGEN" --out "$E" --coordinator --endpoint tcp://coord.example:5555 >/dev/null 2>&1 || fail "coordinator keys"
for m in site-a site-b site-c; do "$KEYGEN" --out "$E" --name "$m" >"$E/$m.printed" 2>/dev/null || fail "keys $m"; done
[[ "$(mode "$E/site-a.entry")" == 644 ]] || fail "entry mode $(mode "$E/site-a.entry")"
# the entry file's indented lines are what the tool prints
diff <(grep '^    ' "$E/site-a.entry") "$E/site-a.printed" >/dev/null || fail "entry file differs from the printed entry"
if "$KEYGEN" --out "$E" --name site-a >/dev/null 2>"$WORK/err.txt"; then fail "keys overwritten"; fi
"$KEYGEN" roster merge --out "$WORK/r.zpl" --gamma 0.2 --min-bucket 3 "$E/coordinator.entry" "$E/site-a.entry" \
    "$E/site-b.entry" >"$WORK/merge.txt" 2>&1 || fail "roster merge: $(cat "$WORK/merge.txt")"
grep -q "2 members (2 new), digest [0-9a-f]\{64\}" "$WORK/merge.txt" || fail "merge summary"
grep -q '^        gamma = ' "$WORK/r.zpl" || fail "merge wrote no policy"
grep -q 'endpoint = "tcp://coord.example:5555"' "$WORK/r.zpl" || fail "merge lost the endpoint"
"$KEYGEN" roster add "$WORK/r.zpl" "$E/site-c.entry" >"$WORK/add.txt" 2>&1 || fail "roster add: $(cat "$WORK/add.txt")"
grep -q "3 members (1 new)" "$WORK/add.txt" || fail "add summary"
cp "$WORK/r.zpl" "$WORK/r.before"
# refusals: a duplicate member, a second coordinator, no coordinator, an existing output, a bad file
expect_fail () {   # expect_fail WHAT PATTERN ARGS...
    local what=$1 pat=$2; shift 2
    set +e; "$KEYGEN" "$@" >"$WORK/err.txt" 2>&1; local rc=$?; set -e
    [[ $rc -ne 0 ]] || fail "$what was accepted"
    grep -q "$pat" "$WORK/err.txt" || fail "$what: no '$pat' in: $(cat "$WORK/err.txt")"
}
expect_fail "a duplicate member" "already in the roster" roster add "$WORK/r.zpl" "$E/site-c.entry"
expect_fail "a second coordinator" "second coordinator" roster add "$WORK/r.zpl" "$E/coordinator.entry"
expect_fail "a roster without coordinator" "no coordinator entry" roster merge --out "$WORK/r2.zpl" "$E/site-a.entry"
expect_fail "an existing output" "refusing to overwrite" roster merge --out "$WORK/r.zpl" "$E/coordinator.entry" "$E/site-a.entry"
printf 'roster\n    member = "x"\n        identity = "00"\n' >"$WORK/bad.entry"
expect_fail "a malformed entry" "not a valid entry file" roster add "$WORK/r.zpl" "$WORK/bad.entry"
expect_fail "a bad gamma" "gamma" roster merge --out "$WORK/r3.zpl" --gamma 1.5 "$E/coordinator.entry" "$E/site-a.entry"
cmp -s "$WORK/r.zpl" "$WORK/r.before" || fail "a refused roster add changed the roster"
[[ ! -e "$WORK/r2.zpl" && ! -e "$WORK/r3.zpl" ]] || fail "a refused merge wrote a roster"
# the merged roster works: fl-client finds the coordinator through it
set +e
timeout 5 "$(dirname "$KEYGEN")/fl-client" --member site-a --roster "$WORK/r.zpl" --identity "$E/site-a.identity_secret" \
    --cert "$E/site-a.curve" --dataset wdbc --partitions 3 --partition-index 0 --max-retries 1 >"$WORK/cl.txt" 2>&1
set -e
grep -q "connecting to tcp://coord.example:5555 (the roster's coordinator endpoint)" "$WORK/cl.txt" \
    || fail "fl-client did not use the roster's endpoint: $(head -5 "$WORK/cl.txt")"

echo "it_keygen: ok"
