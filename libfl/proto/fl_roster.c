/*  fl_roster.c - consortium roster (ZPL via zconfig) and identity key files.

    The roster is trusted configuration, but it is still a file a human
    edits, so loading validates everything (encodings, lengths, Ed25519
    points, uniqueness) and names the file and entry in every error: a
    roster that loads is one the secure-aggregation code can rely on.
    Lookups by id, CURVE key and identity key go through zhash tables so
    that a 65,535-member roster loads in linear time.
*/
#include "fl_roster.h"
#include "fl_atomic.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char id[FL_ROSTER_ID_MAX + 1];
    uint8_t identity[FL_ROSTER_IDENTITYBYTES];
    char curve[FL_ROSTER_CURVE_Z85_LEN + 1];
    uint8_t curve_bin[FL_ROSTER_CURVEBYTES];
} s_entry_t;

struct fl_roster_t {
    bool has_coordinator;
    s_entry_t coordinator;
    char *endpoint;             /* coordinator endpoint or NULL */
    s_entry_t *members;
    size_t size, capacity;
    zhash_t *by_id;             /* id -> position + 1 */
    zhash_t *by_curve;          /* Z85 -> position + 1, or S_COORD */
    zhash_t *by_identity;       /* hex -> position + 1, or S_COORD */
    bool has_policy;            /* a "policy" section was given (else the default) */
    fl_secagg_policy_t policy;
};

#define S_COORD ((void *) UINTPTR_MAX)

/* ---- key decoding ------------------------------------------------------ */

/*  Exactly 64 hex chars -> 32 bytes.  0 or -1. */
static int
s_hex32 (const char *hex, uint8_t out[32])
{
    if (!hex || strlen (hex) != 64)
        return -1;
    size_t len = 0;
    const char *end = NULL;
    uint8_t tmp[32];
    if (sodium_hex2bin (tmp, 32, hex, 64, NULL, &len, &end) != 0 || len != 32 || end != hex + 64)
        return -1;
    memcpy (out, tmp, 32);
    return 0;
}

/*  An identity key: 64 hex chars encoding a valid Ed25519 point (this also
    refuses the small-order points a forged key might use). */
static const char *
s_identity_decode (const char *hex, uint8_t out[32])
{
    uint8_t pk[32];
    if (s_hex32 (hex, pk) != 0)
        return "identity key is not 64 hex characters";
    if (crypto_core_ed25519_is_valid_point (pk) != 1)
        return "identity key is not a valid Ed25519 public key";
    memcpy (out, pk, 32);
    return NULL;
}

static const char *
s_curve_decode (const char *z85, uint8_t out[32])
{
    if (!z85 || strlen (z85) != FL_ROSTER_CURVE_Z85_LEN)
        return "CURVE key is not 40 Z85 characters";
    uint8_t bin[32];
    if (!zmq_z85_decode (bin, z85))
        return "CURVE key is not valid Z85";
    static const uint8_t zero[32];
    if (sodium_memcmp (bin, zero, 32) == 0)
        return "CURVE key is all zero";
    memcpy (out, bin, 32);
    return NULL;
}

bool
fl_roster_id_valid (const char *id)
{
    if (!id)
        return false;
    size_t n = strlen (id);
    if (n == 0 || n > FL_ROSTER_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return false;
    }
    return true;
}

/* ---- construction ------------------------------------------------------- */

fl_roster_t *
fl_roster_new (void)
{
    if (sodium_init () < 0)
        return NULL;
    fl_roster_t *self = (fl_roster_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->by_id = zhash_new ();
    self->by_curve = zhash_new ();
    self->by_identity = zhash_new ();
    if (!self->by_id || !self->by_curve || !self->by_identity) {
        fl_roster_destroy (&self);
        return NULL;
    }
    return self;
}

void
fl_roster_destroy (fl_roster_t **self_p)
{
    assert (self_p);
    fl_roster_t *self = *self_p;
    if (self) {
        zhash_destroy (&self->by_id);
        zhash_destroy (&self->by_curve);
        zhash_destroy (&self->by_identity);
        free (self->members);
        free (self->endpoint);
        free (self);
        *self_p = NULL;
    }
}

/*  Validates and decodes one entry's keys and checks them against every key
    already in the roster.  where: "file: member 'x'" for messages. */
static int
s_check_keys (fl_roster_t *self, const char *where, const uint8_t *identity_pk,
              const char *curve_z85, s_entry_t *entry)
{
    char hex[65];
    sodium_bin2hex (hex, sizeof hex, identity_pk, 32);
    const char *err = s_identity_decode (hex, entry->identity);
    if (!err)
        err = s_curve_decode (curve_z85, entry->curve_bin);
    if (err) {
        zsys_error ("roster %s: %s", where, err);
        return -1;
    }
    memcpy (entry->curve, curve_z85, FL_ROSTER_CURVE_Z85_LEN + 1);
    if (zhash_lookup (self->by_identity, hex)) {
        zsys_error ("roster %s: identity key %.16s... is already used by another entry", where, hex);
        return -1;
    }
    if (zhash_lookup (self->by_curve, curve_z85)) {
        zsys_error ("roster %s: CURVE key %s is already used by another entry", where, curve_z85);
        return -1;
    }
    return 0;
}

static int
s_set_coordinator (fl_roster_t *self, const char *where, const uint8_t *identity_pk,
                   const char *curve_z85, const char *endpoint)
{
    assert (self && identity_pk);
    if (self->has_coordinator) {
        zsys_error ("roster %s: a coordinator entry is already present", where);
        return -1;
    }
    s_entry_t e;
    memset (&e, 0, sizeof e);
    strcpy (e.id, "coordinator");
    if (s_check_keys (self, where, identity_pk, curve_z85, &e) != 0)
        return -1;
    if (endpoint && (strlen (endpoint) == 0 || strlen (endpoint) > 255)) {
        zsys_error ("roster %s: endpoint must be 1..255 characters", where);
        return -1;
    }
    char *ep = endpoint ? strdup (endpoint) : NULL;
    if (endpoint && !ep)
        return -1;
    char hex[65];
    sodium_bin2hex (hex, sizeof hex, e.identity, 32);
    if (zhash_insert (self->by_identity, hex, S_COORD) != 0
        || zhash_insert (self->by_curve, e.curve, S_COORD) != 0) {
        zhash_delete (self->by_identity, hex);
        free (ep);
        return -1;
    }
    self->coordinator = e;
    self->endpoint = ep;
    self->has_coordinator = true;
    return 0;
}

int
fl_roster_set_coordinator (fl_roster_t *self, const uint8_t identity_pk[FL_ROSTER_IDENTITYBYTES],
                           const char *curve_z85, const char *endpoint)
{
    return s_set_coordinator (self, "coordinator", identity_pk, curve_z85, endpoint);
}

static int
s_add_member (fl_roster_t *self, const char *where, const char *id, const uint8_t *identity_pk,
              const char *curve_z85)
{
    assert (self && identity_pk);
    if (!fl_roster_id_valid (id)) {
        zsys_error ("roster %s: invalid member id (1..%u characters of A-Z a-z 0-9 . _ -, "
                    "starting with a letter or digit)", where, FL_ROSTER_ID_MAX);
        return -1;
    }
    if (self->size >= FL_ROSTER_MAX_MEMBERS) {
        zsys_error ("roster %s: more than %u members", where, FL_ROSTER_MAX_MEMBERS);
        return -1;
    }
    if (zhash_lookup (self->by_id, id)) {
        zsys_error ("roster %s: duplicate member id", where);
        return -1;
    }
    s_entry_t e;
    memset (&e, 0, sizeof e);
    strcpy (e.id, id);
    if (s_check_keys (self, where, identity_pk, curve_z85, &e) != 0)
        return -1;
    if (self->size == self->capacity) {
        size_t cap = self->capacity ? 2 * self->capacity : 16;
        if (cap > FL_ROSTER_MAX_MEMBERS)
            cap = FL_ROSTER_MAX_MEMBERS;
        s_entry_t *m = (s_entry_t *) realloc (self->members, cap * sizeof *m);
        if (!m) {
            zsys_error ("roster %s: out of memory", where);
            return -1;
        }
        self->members = m;
        self->capacity = cap;
    }
    void *pos = (void *) (uintptr_t) (self->size + 1);
    char hex[65];
    sodium_bin2hex (hex, sizeof hex, e.identity, 32);
    if (zhash_insert (self->by_id, e.id, pos) != 0)
        return -1;
    if (zhash_insert (self->by_identity, hex, pos) != 0) {
        zhash_delete (self->by_id, e.id);
        return -1;
    }
    if (zhash_insert (self->by_curve, e.curve, pos) != 0) {
        zhash_delete (self->by_id, e.id);
        zhash_delete (self->by_identity, hex);
        return -1;
    }
    self->members[self->size++] = e;
    return 0;
}

int
fl_roster_add_member (fl_roster_t *self, const char *id,
                      const uint8_t identity_pk[FL_ROSTER_IDENTITYBYTES], const char *curve_z85)
{
    char where[FL_ROSTER_ID_MAX + 32];
    snprintf (where, sizeof where, "member '%.*s'", (int) FL_ROSTER_ID_MAX, id ? id : "(null)");
    return s_add_member (self, where, id, identity_pk, curve_z85);
}

/* ---- loading ------------------------------------------------------------ */

/*  Reads identity/curve/endpoint children of an entry; refuses anything else. */
static int
s_entry_fields (zconfig_t *node, const char *where, bool allow_endpoint, uint8_t identity[32],
                const char **curve, const char **endpoint)
{
    const char *identity_hex = NULL;
    *curve = NULL;
    if (endpoint)
        *endpoint = NULL;
    for (zconfig_t *c = zconfig_child (node); c; c = zconfig_next (c)) {
        const char *name = zconfig_name (c), *value = zconfig_value (c);
        const char **slot = NULL;
        if (streq (name, "identity"))
            slot = &identity_hex;
        else if (streq (name, "curve"))
            slot = curve;
        else if (allow_endpoint && streq (name, "endpoint"))
            slot = endpoint;
        if (!slot) {
            zsys_error ("roster %s: unknown entry '%s'", where, name);
            return -1;
        }
        if (*slot) {
            zsys_error ("roster %s: '%s' given twice", where, name);
            return -1;
        }
        if (zconfig_child (c)) {
            zsys_error ("roster %s: '%s' must not have children", where, name);
            return -1;
        }
        *slot = value ? value : "";
    }
    if (!identity_hex || !*curve) {
        zsys_error ("roster %s: needs both 'identity' and 'curve'", where);
        return -1;
    }
    const char *err = s_identity_decode (identity_hex, identity);
    if (err) {
        zsys_error ("roster %s: %s", where, err);
        return -1;
    }
    return 0;
}

/*  The "policy" section (fl_secagg_policy_t; docs/SECAGG.md §6.1):
        policy
            gamma = 0.15                (colluding fraction assumed, [0, 1))
            min_bucket = 3              (smallest secure bucket, >= 2)
            graphs = "complete harary"  (allowed neighbour graphs)
    Every key is optional (the default fills it); unknown keys, repeated
    keys and malformed values are refused with the value named. */
static int
s_policy_parse (fl_roster_t *self, zconfig_t *node, const char *where)
{
    fl_secagg_policy_t p;
    fl_secagg_policy_default (&p);
    unsigned seen = 0;
    if (zconfig_value (node) && *zconfig_value (node)) {
        zsys_error ("roster %s: the policy section takes no value ('%s')", where, zconfig_value (node));
        return -1;
    }
    for (zconfig_t *c = zconfig_child (node); c; c = zconfig_next (c)) {
        const char *name = zconfig_name (c), *value = zconfig_value (c) ? zconfig_value (c) : "";
        char *end = NULL;
        unsigned bit = streq (name, "gamma") ? 1u : streq (name, "min_bucket") ? 2u : streq (name, "graphs") ? 4u : 0u;
        if (!bit || (seen & bit) || zconfig_child (c)) {
            zsys_error ("roster %s: unknown, repeated or nested entry '%s'", where, name);
            return -1;
        }
        seen |= bit;
        errno = 0;
        if (bit == 1u) {
            p.gamma = strtod (value, &end);
            if (!*value || *end || errno || !(p.gamma >= 0 && p.gamma < 1)) {
                zsys_error ("roster %s: gamma '%s' is not a fraction in [0, 1)", where, value);
                return -1;
            }
        }
        else if (bit == 2u) {
            unsigned long v = strtoul (value, &end, 10);
            if (!*value || *end || errno || value[0] == '-' || v < 2 || v > FL_SECAGG_MAX_CLIENTS) {
                zsys_error ("roster %s: min_bucket '%s' is not an integer in 2..%u", where, value,
                            FL_SECAGG_MAX_CLIENTS);
                return -1;
            }
            p.min_bucket = (uint32_t) v;
        }
        else {
            p.graphs = 0;
            char buf[64];
            snprintf (buf, sizeof buf, "%s", value);
            char *save = NULL;
            for (char *tok = strtok_r (buf, " ,", &save); tok; tok = strtok_r (NULL, " ,", &save)) {
                if (streq (tok, "complete"))
                    p.graphs |= 1u << FL_SECAGG_GRAPH_COMPLETE;
                else if (streq (tok, "harary"))
                    p.graphs |= 1u << FL_SECAGG_GRAPH_HARARY;
                else {
                    zsys_error ("roster %s: graphs '%s': unknown graph '%s' (complete, harary)", where, value, tok);
                    return -1;
                }
            }
        }
    }
    char why[128];
    if (fl_secagg_policy_valid (&p, why, sizeof why) != 0) {
        zsys_error ("roster %s: %s", where, why);
        return -1;
    }
    self->policy = p;
    self->has_policy = true;
    return 0;
}

/*  Counts "member" entries with a line scan, so an oversized roster is
    refused before zconfig parses it (zconfig appends each child by walking
    its siblings: parsing n members costs O(n^2), ~6 s for 65,536). */
static size_t
s_count_members (const char *text)
{
    size_t count = 0;
    for (const char *line = text; line && *line; line = strchr (line, '\n'), line = line ? line + 1 : NULL) {
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp (p, "member", 6) == 0 && strchr (" =\t\r\n", p[6]))   /* p[6] == 0 matches too */
            count++;
    }
    return count;
}

/*  Reads the whole file (size already bounded) into a NUL-terminated buffer.
    We parse with zconfig_str_load rather than zconfig_load, which leaks its
    zfile when the text is not valid ZPL (CZMQ 4.2.1). */
static char *
s_read_file (const char *path, size_t size)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return NULL;
    char *text = (char *) malloc (size + 1);
    size_t got = text ? fread (text, 1, size, f) : 0;
    fclose (f);
    if (!text || got != size) {
        free (text);
        return NULL;
    }
    text[size] = 0;
    return text;
}

static fl_roster_t *
s_load (const char *path, bool partial)
{
    assert (path);
    struct stat st;
    if (stat (path, &st) != 0) {
        zsys_error ("roster %s: cannot read: %s", path, strerror (errno));
        return NULL;
    }
    if (!S_ISREG (st.st_mode) || (uint64_t) st.st_size > FL_ROSTER_MAX_FILE_BYTES) {
        zsys_error ("roster %s: not a regular file of at most %u bytes", path,
                    FL_ROSTER_MAX_FILE_BYTES);
        return NULL;
    }
    char *text = s_read_file (path, (size_t) st.st_size);
    if (!text) {
        zsys_error ("roster %s: cannot read: %s", path, strerror (errno));
        return NULL;
    }
    if (strlen (text) != (size_t) st.st_size) {
        zsys_error ("roster %s: contains a NUL byte (not a text file)", path);
        free (text);
        return NULL;
    }
    size_t counted = s_count_members (text);
    if (counted > FL_ROSTER_MAX_MEMBERS) {
        zsys_error ("roster %s: %zu members, more than the maximum %u", path, counted,
                    FL_ROSTER_MAX_MEMBERS);
        free (text);
        return NULL;
    }
    zconfig_t *root = zconfig_str_load (text);
    free (text);
    if (!root) {
        zsys_error ("roster %s: cannot parse (not valid ZPL?)", path);
        return NULL;
    }
    fl_roster_t *self = fl_roster_new ();
    zconfig_t *roster = NULL;
    char where[PATH_MAX + 128];
    for (zconfig_t *c = zconfig_child (root); c && self; c = zconfig_next (c)) {
        if (streq (zconfig_name (c), "roster") && !roster)
            roster = c;
        else {
            zsys_error ("roster %s: unexpected top-level entry '%s' (one 'roster' section expected)",
                        path, zconfig_name (c));
            fl_roster_destroy (&self);
        }
    }
    if (self && !roster) {
        zsys_error ("roster %s: no 'roster' section", path);
        fl_roster_destroy (&self);
    }
    /* Count before allocating anything per member. */
    size_t members = 0;
    for (zconfig_t *c = self ? zconfig_child (roster) : NULL; c; c = zconfig_next (c))
        members += streq (zconfig_name (c), "member");
    if (self && members > FL_ROSTER_MAX_MEMBERS) {
        zsys_error ("roster %s: %zu members, more than the maximum %u", path, members,
                    FL_ROSTER_MAX_MEMBERS);
        fl_roster_destroy (&self);
    }
    size_t k = 0;
    for (zconfig_t *c = self ? zconfig_child (roster) : NULL; c && self; c = zconfig_next (c)) {
        const char *name = zconfig_name (c);
        uint8_t identity[32];
        const char *curve, *endpoint;
        int rc = -1;
        if (streq (name, "coordinator")) {
            snprintf (where, sizeof where, "%s: coordinator", path);
            if (s_entry_fields (c, where, true, identity, &curve, &endpoint) == 0)
                rc = s_set_coordinator (self, where, identity, curve, endpoint);
        }
        else if (streq (name, "member")) {
            k++;
            const char *id = zconfig_value (c);
            if (id && strlen (id) <= FL_ROSTER_ID_MAX)
                snprintf (where, sizeof where, "%s: member '%s'", path, id);
            else
                snprintf (where, sizeof where, "%s: member #%zu", path, k);
            if (s_entry_fields (c, where, false, identity, &curve, NULL) == 0)
                rc = s_add_member (self, where, id ? id : "", identity, curve);
        }
        else if (streq (name, "policy") && !self->has_policy) {
            snprintf (where, sizeof where, "%s: policy", path);
            rc = s_policy_parse (self, c, where);
        }
        else
            zsys_error ("roster %s: unknown or repeated entry '%s' in the roster section", path, name);
        if (rc != 0)
            fl_roster_destroy (&self);
    }
    if (self && !partial && !self->has_coordinator) {
        zsys_error ("roster %s: no coordinator entry", path);
        fl_roster_destroy (&self);
    }
    if (self && !partial && self->size == 0) {
        zsys_error ("roster %s: empty roster (no member entries)", path);
        fl_roster_destroy (&self);
    }
    if (self && partial && !self->has_coordinator && self->size == 0 && !self->has_policy) {
        zsys_error ("roster %s: no coordinator, member or policy entry", path);
        fl_roster_destroy (&self);
    }
    zconfig_destroy (&root);
    return self;
}

fl_roster_t *
fl_roster_load (const char *path)
{
    return s_load (path, false);
}

fl_roster_t *
fl_roster_load_entries (const char *path)
{
    return s_load (path, true);
}

/* ---- saving ------------------------------------------------------------- */

static void
s_put_keys (zconfig_t *node, const s_entry_t *e)
{
    char hex[65];
    sodium_bin2hex (hex, sizeof hex, e->identity, 32);
    zconfig_set_value (zconfig_new ("identity", node), "%s", hex);
    zconfig_set_value (zconfig_new ("curve", node), "%s", e->curve);
}

/*  Writes data to path via path.tmp + fsync + rename, so a reader never
    sees a half-written file. */
static int
s_write_atomic (const char *path, const char *data, size_t len, mode_t mode)
{
    if (fl_atomic_write (path, data, len, mode) == 0)
        return 0;
    zsys_error ("%s: write failed: %s", path, strerror (errno));
    return -1;
}

int
fl_roster_save (const fl_roster_t *self, const char *path)
{
    assert (self && path);
    if (!self->has_coordinator || self->size == 0) {
        zsys_error ("roster %s: not saved: a roster needs a coordinator and at least one member",
                    path);
        return -1;
    }
    zconfig_t *root = zconfig_new ("root", NULL);
    zconfig_t *roster = zconfig_new ("roster", root);
    zconfig_t *coord = zconfig_new ("coordinator", roster);
    s_put_keys (coord, &self->coordinator);
    if (self->endpoint)
        zconfig_set_value (zconfig_new ("endpoint", coord), "%s", self->endpoint);
    if (self->has_policy) {
        zconfig_t *pol = zconfig_new ("policy", roster);
        zconfig_set_value (zconfig_new ("gamma", pol), "%.17g", self->policy.gamma);
        zconfig_set_value (zconfig_new ("min_bucket", pol), "%u", self->policy.min_bucket);
        unsigned g = self->policy.graphs;
        zconfig_set_value (zconfig_new ("graphs", pol), "%s%s%s",
                           g & (1u << FL_SECAGG_GRAPH_COMPLETE) ? "complete" : "",
                           g == FL_SECAGG_POLICY_GRAPHS ? " " : "",
                           g & (1u << FL_SECAGG_GRAPH_HARARY) ? "harary" : "");
    }
    for (size_t i = 0; i < self->size; i++) {
        zconfig_t *m = zconfig_new ("member", roster);
        zconfig_set_value (m, "%s", self->members[i].id);
        s_put_keys (m, &self->members[i]);
    }
    char *text = zconfig_str_save (root);
    zconfig_destroy (&root);
    if (!text) {
        zsys_error ("roster %s: out of memory", path);
        return -1;
    }
    const char *header = "#   libfl consortium roster (see fl_roster.h)\n";
    size_t hl = strlen (header), tl = strlen (text);
    char *all = (char *) malloc (hl + tl + 1);
    int rc = -1;
    if (all) {
        memcpy (all, header, hl);
        memcpy (all + hl, text, tl + 1);
        rc = s_write_atomic (path, all, hl + tl, 0644);
    }
    free (all);
    zstr_free (&text);
    return rc;
}

/* ---- accessors ---------------------------------------------------------- */

size_t
fl_roster_size (const fl_roster_t *self)
{
    assert (self);
    return self->size;
}

const char *
fl_roster_member_id (const fl_roster_t *self, size_t i)
{
    assert (self && i < self->size);
    return self->members[i].id;
}

const uint8_t *
fl_roster_identity_pk (const fl_roster_t *self, size_t i)
{
    assert (self && i < self->size);
    return self->members[i].identity;
}

const char *
fl_roster_curve_pk (const fl_roster_t *self, size_t i)
{
    assert (self && i < self->size);
    return self->members[i].curve;
}

const uint8_t *
fl_roster_curve_pk_bin (const fl_roster_t *self, size_t i)
{
    assert (self && i < self->size);
    return self->members[i].curve_bin;
}

static int
s_position (void *item)
{
    if (!item || item == S_COORD)
        return -1;
    return (int) ((uintptr_t) item - 1);
}

int
fl_roster_find_by_id (const fl_roster_t *self, const char *id)
{
    assert (self);
    return id ? s_position (zhash_lookup (self->by_id, id)) : -1;
}

int
fl_roster_find_by_curve (const fl_roster_t *self, const char *z85)
{
    assert (self);
    return z85 ? s_position (zhash_lookup (self->by_curve, z85)) : -1;
}

int
fl_roster_find_by_identity (const fl_roster_t *self, const uint8_t pk[FL_ROSTER_IDENTITYBYTES])
{
    assert (self && pk);
    char hex[65];
    sodium_bin2hex (hex, sizeof hex, pk, 32);
    return s_position (zhash_lookup (self->by_identity, hex));
}

bool
fl_roster_has_coordinator (const fl_roster_t *self)
{
    assert (self);
    return self->has_coordinator;
}

const uint8_t *
fl_roster_coordinator_identity_pk (const fl_roster_t *self)
{
    assert (self);
    return self->has_coordinator ? self->coordinator.identity : NULL;
}

const char *
fl_roster_coordinator_curve_pk (const fl_roster_t *self)
{
    assert (self);
    return self->has_coordinator ? self->coordinator.curve : NULL;
}

const char *
fl_roster_coordinator_endpoint (const fl_roster_t *self)
{
    assert (self);
    return self->endpoint;
}

/* Absorbs one entry: a tag byte, the id with its length, both public keys. */
static void
s_digest_entry (crypto_generichash_state *st, uint8_t tag, const s_entry_t *e)
{
    uint8_t len = (uint8_t) strlen (e->id);
    crypto_generichash_update (st, &tag, 1);
    crypto_generichash_update (st, &len, 1);
    crypto_generichash_update (st, (const uint8_t *) e->id, len);
    crypto_generichash_update (st, e->identity, sizeof e->identity);
    crypto_generichash_update (st, e->curve_bin, sizeof e->curve_bin);
}

void
fl_roster_digest (const fl_roster_t *self, uint8_t out[FL_ROSTER_DIGESTBYTES])
{
    assert (self && out);
    static const char label[] = "libfl roster digest v1";
    crypto_generichash_state st;
    crypto_generichash_init (&st, NULL, 0, FL_ROSTER_DIGESTBYTES);
    crypto_generichash_update (&st, (const uint8_t *) label, sizeof label);
    if (self->has_coordinator) {
        s_digest_entry (&st, 'C', &self->coordinator);
        const char *ep = self->endpoint ? self->endpoint : "";
        uint32_t len = (uint32_t) strlen (ep);
        uint8_t le[4] = { (uint8_t) len, (uint8_t) (len >> 8), (uint8_t) (len >> 16), (uint8_t) (len >> 24) };
        crypto_generichash_update (&st, le, sizeof le);
        crypto_generichash_update (&st, (const uint8_t *) ep, len);
    }
    for (size_t i = 0; i < self->size; i++)
        s_digest_entry (&st, 'M', &self->members[i]);
    if (self->has_policy) {
        /* after the members, so rosters without a policy keep their digest */
        uint8_t rec[1 + 8 + 4 + 4];
        uint64_t g;
        memcpy (&g, &self->policy.gamma, sizeof g);
        rec[0] = 'P';
        for (int b = 0; b < 8; b++)
            rec[1 + b] = (uint8_t) (g >> (8 * b));
        for (int b = 0; b < 4; b++) {
            rec[9 + b] = (uint8_t) (self->policy.min_bucket >> (8 * b));
            rec[13 + b] = (uint8_t) (self->policy.graphs >> (8 * b));
        }
        crypto_generichash_update (&st, rec, sizeof rec);
    }
    crypto_generichash_final (&st, out, FL_ROSTER_DIGESTBYTES);
}

/* ---- identity key files ------------------------------------------------- */

static int
s_write_new (const char *path, const char *data, size_t len, mode_t mode)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
    if (fd < 0) {
        zsys_error ("%s: cannot create%s: %s", path, errno == EEXIST ? " (refusing to overwrite)" : "",
                    strerror (errno));
        return -1;
    }
    /* The mode argument is filtered by umask; force the intended mode. */
    int ok = fchmod (fd, mode) == 0;
    size_t done = 0;
    while (ok && done < len) {
        ssize_t w = write (fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            ok = 0;
        else
            done += (size_t) w;
    }
    ok = ok && fsync (fd) == 0;
    ok &= close (fd) == 0;
    if (!ok) {
        zsys_error ("%s: write failed: %s", path, strerror (errno));
        unlink (path);
        return -1;
    }
    return 0;
}

int
fl_identity_save (const char *public_path, const char *secret_path,
                  const uint8_t pk[FL_ROSTER_IDENTITYBYTES], const uint8_t sk[FL_IDENTITY_SECRETBYTES])
{
    assert (public_path && secret_path && pk && sk);
    if (sodium_init () < 0)
        return -1;
    struct stat st;
    if (lstat (public_path, &st) == 0 || lstat (secret_path, &st) == 0) {
        zsys_error ("%s: identity key file already exists (refusing to overwrite)",
                    lstat (public_path, &st) == 0 ? public_path : secret_path);
        return -1;
    }
    char *hex = (char *) sodium_malloc (2 * FL_IDENTITY_SECRETBYTES + 2);
    if (!hex)
        return -1;
    sodium_bin2hex (hex, 2 * FL_IDENTITY_SECRETBYTES + 1, sk, FL_IDENTITY_SECRETBYTES);
    hex[2 * FL_IDENTITY_SECRETBYTES] = '\n';
    int rc = s_write_new (secret_path, hex, 2 * FL_IDENTITY_SECRETBYTES + 1, 0600);
    sodium_free (hex);
    if (rc != 0)
        return -1;
    char pub[66];
    sodium_bin2hex (pub, 65, pk, 32);
    pub[64] = '\n';
    if (s_write_new (public_path, pub, 65, 0644) != 0) {
        unlink (secret_path);
        return -1;
    }
    return 0;
}

/*  Reads a small file (< cap bytes) into buf (NUL-terminated); -1 on error. */
static int
s_read_small (int fd, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = read (fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        n += (size_t) r;
        if (n == cap - 1)
            return -1;          /* too long */
    }
    buf[n] = 0;
    *len = n;
    return 0;
}

/*  Strips one trailing "\n" or "\r\n". */
static void
s_chomp (char *s, size_t *len)
{
    if (*len && s[*len - 1] == '\n')
        s[--*len] = 0;
    if (*len && s[*len - 1] == '\r')
        s[--*len] = 0;
}

uint8_t *
fl_identity_load_secret (const char *path)
{
    assert (path);
    if (sodium_init () < 0)
        return NULL;
    int fd = open (path, O_RDONLY | O_NOFOLLOW);
    if (fd < 0) {
        zsys_error ("identity secret key %s: cannot open: %s", path, strerror (errno));
        return NULL;
    }
    struct stat st;
    if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode)) {
        zsys_error ("identity secret key %s: not a regular file", path);
        close (fd);
        return NULL;
    }
    if (st.st_mode & 077) {
        zsys_error ("identity secret key %s: permissions %04o are too open: the file must not "
                    "be accessible by group or others (chmod 600 %s)",
                    path, (unsigned) (st.st_mode & 07777), path);
        close (fd);
        return NULL;
    }
    const size_t cap = 2 * FL_IDENTITY_SECRETBYTES + 8;
    char *text = (char *) sodium_malloc (cap);
    uint8_t *sk = (uint8_t *) sodium_malloc (FL_IDENTITY_SECRETBYTES);
    uint8_t *check_sk = (uint8_t *) sodium_malloc (FL_IDENTITY_SECRETBYTES);
    size_t len = 0, bin_len = 0;
    const char *end = NULL;
    const char *err = NULL;
    uint8_t pk[32];
    if (!text || !sk || !check_sk)
        err = "out of secure memory";
    else if (s_read_small (fd, text, cap, &len) != 0)
        err = "unreadable or longer than 128 hex characters";
    else {
        s_chomp (text, &len);
        if (len != 2 * FL_IDENTITY_SECRETBYTES
            || sodium_hex2bin (sk, FL_IDENTITY_SECRETBYTES, text, len, NULL, &bin_len, &end) != 0
            || bin_len != FL_IDENTITY_SECRETBYTES || end != text + len)
            err = "not exactly 128 hex characters (a 64-byte Ed25519 secret key)";
        else {
            /* The second half is the public key: re-derive it from the seed. */
            crypto_sign_seed_keypair (pk, check_sk, sk);
            if (sodium_memcmp (check_sk, sk, FL_IDENTITY_SECRETBYTES) != 0)
                err = "corrupt key: the public half does not match the seed";
        }
    }
    close (fd);
    if (text)
        sodium_free (text);
    if (check_sk)
        sodium_free (check_sk);
    if (err) {
        zsys_error ("identity secret key %s: %s", path, err);
        if (sk)
            sodium_free (sk);
        return NULL;
    }
    sodium_mprotect_readonly (sk);
    return sk;
}

void
fl_identity_secret_destroy (uint8_t **sk_p)
{
    assert (sk_p);
    if (*sk_p) {
        sodium_free (*sk_p);        /* wipes; works on read-only pages */
        *sk_p = NULL;
    }
}

int
fl_identity_load_public (const char *path, uint8_t pk[FL_ROSTER_IDENTITYBYTES])
{
    assert (path && pk);
    if (sodium_init () < 0)
        return -1;
    int fd = open (path, O_RDONLY);
    if (fd < 0) {
        zsys_error ("identity key %s: cannot open: %s", path, strerror (errno));
        return -1;
    }
    char text[80];
    size_t len = 0;
    int rc = s_read_small (fd, text, sizeof text, &len);
    close (fd);
    const char *err = NULL;
    if (rc != 0)
        err = "unreadable or too long";
    else {
        s_chomp (text, &len);
        err = s_identity_decode (text, pk);
    }
    if (err) {
        zsys_error ("identity key %s: %s", path, err);
        return -1;
    }
    return 0;
}

zcertstore_t *
fl_roster_certstore (const fl_roster_t *self)
{
    zcertstore_t *store = zcertstore_new (NULL);
    if (!store)
        return NULL;
    static const uint8_t no_secret[32];
    for (size_t i = 0; i < fl_roster_size (self); i++) {
        zcert_t *cert = zcert_new_from (fl_roster_curve_pk_bin (self, i), no_secret);
        if (!cert) {
            zcertstore_destroy (&store);
            return NULL;
        }
        zcert_set_meta (cert, "fl-member", "%s", fl_roster_member_id (self, i));
        zcertstore_insert (store, &cert);
    }
    return store;
}

zcert_t *
fl_curve_cert_load (const char *path)
{
    char secret[4096];
    snprintf (secret, sizeof secret, "%s_secret", path);
    struct stat st;
    if (stat (secret, &st) != 0) {
        zsys_error ("curve certificate: cannot read %s: %s", secret, strerror (errno));
        return NULL;
    }
    if (st.st_mode & 077) {
        zsys_error ("curve certificate: %s is readable by group or others (mode %03o); chmod 600 it",
                    secret, (unsigned) (st.st_mode & 0777));
        return NULL;
    }
    zcert_t *cert = zcert_load (path);
    static const uint8_t zero[32];
    if (!cert || sodium_memcmp (zcert_secret_key (cert), zero, 32) == 0) {
        zsys_error ("curve certificate: %s (with %s) is not a CURVE certificate with a secret key", path, secret);
        zcert_destroy (&cert);
        return NULL;
    }
    return cert;
}

/* ---- security policy ----------------------------------------------------- */

int
fl_roster_set_policy (fl_roster_t *self, const fl_secagg_policy_t *policy)
{
    assert (self);
    char why[128];
    if (fl_secagg_policy_valid (policy, why, sizeof why) != 0) {
        zsys_error ("roster: invalid policy: %s", why);
        return -1;
    }
    self->policy = *policy;
    self->has_policy = true;
    return 0;
}

bool
fl_roster_has_policy (const fl_roster_t *self)
{
    assert (self);
    return self->has_policy;
}

void
fl_roster_policy (const fl_roster_t *self, fl_secagg_policy_t *out)
{
    assert (self && out);
    if (self->has_policy)
        *out = self->policy;
    else
        fl_secagg_policy_default (out);
}
