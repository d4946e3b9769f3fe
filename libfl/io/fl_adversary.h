/*  fl_adversary - a Byzantine consortium member, for robustness evaluation
    only: an honest member (fl_client) wrapped through its update hook.

    WARNING: an adversary sends deliberately malicious updates so that the
    robust aggregators (fl_robust, DESIGN.md §4) can be measured against
    the attacks of the literature (docs/ATTACKS.md).  Never run one outside
    an evaluation.

    The honest member knows nothing of attacks.  The adversary
    - prepares the data: label flipping (data poisoning) replaces the
      training set by a copy with flipped labels before the member is
      created (fl_attack_label_flip_dataset);
    - replaces the update (model poisoning) through the member's update
      hook: after local training, before clipping, encoding and masking,
      it runs the attack (fl_attack_apply, the pure maths in kernels/) on
      the honest update and tells the member not to clip;
    - for the attacks that need statistics of the benign updates (ALIE,
      IPM, min-max, min-sum), pools the colluders' OWN honest updates
      through a directory rendezvous (fl_adversary_collude): file I/O and
      polling, which is why it lives here in io/ and not in the sans-I/O
      session.  The coordinator is never asked: an attack here is exactly as
      strong as a real coalition of f members that pool their own updates
      (the "partial knowledge" threat model of Fang et al., USENIX Security
      2020, and Shejwalkar & Houmansadr, NDSS 2021) - no stronger.
*/
#ifndef FL_ADVERSARY_H_INCLUDED
#define FL_ADVERSARY_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "fl_attack.h"
#include "fl_client.h"
#include "fl_dataset.h"
#include "fl_rng.h"
#include "fl_session.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fl_adversary_t fl_adversary_t;

/*  Default wait for the colluders' updates in one round. */
#define FL_ADVERSARY_COLLUDE_TIMEOUT_MS 10000
#define FL_ADVERSARY_MAX_COLLUDERS   1024u
/*  Collusion file header: magic "FLCL", version, run id, round, d,
    BLAKE2b-256 checksum of everything else (header fields and payload). */
#define FL_ADVERSARY_FILE_MAGIC      0x4c434c46u     /* "FLCL" little-endian */
#define FL_ADVERSARY_FILE_VERSION    1u
#define FL_ADVERSARY_FILE_HEADERBYTES 72u

typedef struct {
    fl_attack_kind_t attack;      /* FL_ATTACK_NONE: an honest member (no hook) */
    fl_attack_params_t params;    /* filled (fl_attack_params_defaults, then the strength) */
    const char *collude_dir;      /* the colluding group's rendezvous directory; copied; NULL = use
                                     only this member's own update */
    size_t colluders;             /* size of the colluding group, this member included */
    int collude_timeout_ms;       /* wait per round for the colluders; 0 = FL_ADVERSARY_COLLUDE_TIMEOUT_MS */
    size_t train_rows;            /* 0: train on the member's own rows; N: on N rows resampled from
                                     them (fl_adversary_resample), an attacker with an equal share */
    uint64_t claim_examples;      /* 0: report the true training row count; N: claim N examples (the
                                     weight FedAvg gives it, up to the coordinator's example cap) */
} fl_adversary_config_t;

/*  An adversary over the member configured by ccfg (whose update_hook and
    update_arg it replaces with its own) and its shards.  Label flipping
    flips the training labels first, modulo max(K_train, K_test, 2) (the
    classes the member announces in HELLO), replacing *train.  Then the
    member is created with fl_client_new: ownership of *train and *test
    passes as there.  The attack's randomness (Gaussian) is an fl_rng
    seeded from ccfg->seed.  With acfg->train_rows, the training rows are
    then resized (fl_adversary_resample, same rng); with
    acfg->claim_examples, every update claims that many examples (through
    the update hook's info->examples).  Logs a BYZANTINE warning naming the
    attack, the rows and the claim.
    NULL (logged) if the label flip or the member cannot be built, or on
    allocation failure; *train and *test then stay the caller's (with
    label flipping, *train may already be the flipped copy). */
/*  The attacker's training rows resized to n (an evaluation's "equal
    share": an attacker the size of the mean member, whatever its
    partition): if n >= rows(ds), every row once and n - rows(ds) more drawn
    uniformly with replacement; if n < rows(ds), n distinct rows drawn
    uniformly (partial Fisher-Yates).  Row order is shuffled either way.
    Draws from rng (fl_rng, libsodium-seeded ChaCha20).  Returns a new
    data set (caller owns), or NULL (logged) if ds is empty, n is 0 or above
    2^31 rows, or on allocation failure. */
fl_dataset_t *fl_adversary_resample (const fl_dataset_t *ds, size_t n, fl_rng_t *rng);

fl_adversary_t *fl_adversary_new (const fl_adversary_config_t *acfg, const fl_client_config_t *ccfg,
                                  fl_dataset_t **train, fl_dataset_t **test);
void fl_adversary_destroy (fl_adversary_t **self_p);

/*  The wrapped member (owned by the adversary): drive it with the
    fl_client_* calls as an honest one. */
fl_client_t *fl_adversary_client (fl_adversary_t *self);

/*  Directory rendezvous for a colluding group of attacker processes.
    Writes this attacker's honest update (d) for (run_id, round) into dir
    atomically (fl_atomic_write: PATH.tmp, fsync, rename) as
        dir/<run id hex>-<round>-<BLAKE2b-64(member) hex>.flc
    (nothing is written when n_colluders is 1), then polls dir (every
    10 ms) until n_colluders valid files of that run and round (its own
    included) are present or timeout_ms has passed, and returns their rows:
    *rows_out (n, d), own row first, then the others in directory order,
    *n_out = n, 1 <= n <= n_colluders.  Caller frees *rows_out with free().
    A file is accepted only if its size is exactly
    FL_ADVERSARY_FILE_HEADERBYTES + 4d, its magic, version, run id, round
    and d match, its checksum verifies and every value is finite; any other
    file (corrupt, truncated, another run or round) is skipped with one
    warning.  Fewer than n_colluders files at the timeout is not an error: a
    warning is logged and what arrived is returned.  The channel provides no
    secrecy or authentication: it is for evaluation on one machine or a
    shared file system, and dir should be fresh per experiment.
    Returns 0, or -1 (logged, nothing returned) if dir cannot be created or
    written, on a bad argument (d == 0, n_colluders == 0 or above
    FL_ADVERSARY_MAX_COLLUDERS, d above 2^28, timeout_ms < 0) or allocation
    failure. */
int fl_adversary_collude (const char *dir, const uint8_t run_id[FL_SESSION_RUNIDBYTES], uint64_t round,
                          const char *member, const float *honest, size_t d, size_t n_colluders, int timeout_ms,
                          float **rows_out, size_t *n_out);

/*  One round of a Byzantine member: if kind needs rows (fl_attack_needs_rows)
    and dir is non-NULL and n_colluders > 1, fl_adversary_collude (dir, ...)
    for the rows (else the own update alone), then fl_attack_apply into
    update (d), in place.  rng: for FL_ATTACK_GAUSSIAN (may be NULL
    otherwise).  Returns 0 or -1 (logged; update unspecified). */
int fl_adversary_round (fl_attack_kind_t kind, const fl_attack_params_t *p, const char *dir,
                        const uint8_t run_id[FL_SESSION_RUNIDBYTES], uint64_t round, const char *member,
                        size_t n_colluders, int timeout_ms, fl_rng_t *rng, float *update, size_t d);

#ifdef __cplusplus
}
#endif
#endif
