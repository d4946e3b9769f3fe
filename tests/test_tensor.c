/*  test_tensor.c - fl_tensor: view layout, error cases, vector helpers. */
#include "fl_tensor.h"
#include "fl_test.h"

#include <float.h>

static void
test_layout (void)
{
    fl_tensor_shape_t s[] = { { "fc0.weight", 4, 3 }, { "fc0.bias", 4, 1 }, { "fc1.weight", 1, 4 } };
    fl_tensor_t *t = fl_tensor_new (s, 3);
    FL_CHECK (t != NULL);
    FL_CHECK (fl_tensor_size (t) == 12 + 4 + 4);
    FL_CHECK (fl_tensor_num_views (t) == 3);
    FL_CHECK (fl_tensor_view (t, 0)->offset == 0);
    FL_CHECK (fl_tensor_view (t, 1)->offset == 12);
    FL_CHECK (fl_tensor_view (t, 2)->offset == 16);
    FL_CHECK (fl_tensor_view (t, 2)->rows == 1 && fl_tensor_view (t, 2)->cols == 4);
    FL_CHECK (strcmp (fl_tensor_view (t, 1)->name, "fc0.bias") == 0);
    FL_CHECK (fl_tensor_find (t, "fc1.weight") == 2);
    FL_CHECK (fl_tensor_find (t, "nope") == -1);
    FL_CHECK (fl_tensor_view_data (t, 1) == fl_tensor_data (t) + 12);
    FL_CHECK (fl_tensor_view_grad (t, 2) == fl_tensor_grad (t) + 16);
    /* both blocks start zeroed and are distinct */
    int zero = 1;
    for (size_t i = 0; i < fl_tensor_size (t); i++)
        zero &= fl_tensor_data (t)[i] == 0.0f && fl_tensor_grad (t)[i] == 0.0f;
    FL_CHECK (zero);
    FL_CHECK (fl_tensor_data (t) != fl_tensor_grad (t));
    fl_tensor_destroy (&t);
    FL_CHECK (t == NULL);
    fl_tensor_destroy (&t);
}

static void
test_errors (void)
{
    fl_tensor_shape_t dup[] = { { "a", 2, 2 }, { "a", 1, 1 } };
    FL_CHECK (fl_tensor_new (dup, 2) == NULL);
    fl_tensor_shape_t zero[] = { { "a", 0, 2 } };
    FL_CHECK (fl_tensor_new (zero, 1) == NULL);
    fl_tensor_shape_t noname[] = { { NULL, 1, 1 } };
    FL_CHECK (fl_tensor_new (noname, 1) == NULL);
    fl_tensor_shape_t empty[] = { { "", 1, 1 } };
    FL_CHECK (fl_tensor_new (empty, 1) == NULL);
    fl_tensor_shape_t longname[] = { { "a_name_that_is_far_too_long_for_a_view", 1, 1 } };
    FL_CHECK (fl_tensor_new (longname, 1) == NULL);
    fl_tensor_shape_t huge[] = { { "a", (size_t) 1 << 40, (size_t) 1 << 40 } };
    FL_CHECK (fl_tensor_new (huge, 1) == NULL);
    fl_tensor_shape_t over[] = { { "a", 1u << 30, 1 }, { "b", 1u << 30, 1 } };
    FL_CHECK (fl_tensor_new (over, 2) == NULL);      /* 2^31 > FL_TENSOR_MAX_FLOATS */
    FL_CHECK (fl_tensor_new (dup, 0) == NULL);
    fl_tensor_shape_t many[FL_TENSOR_MAX_VIEWS + 1];
    char names[FL_TENSOR_MAX_VIEWS + 1][8];
    for (size_t i = 0; i <= FL_TENSOR_MAX_VIEWS; i++) {
        snprintf (names[i], sizeof names[i], "v%zu", i);
        many[i] = (fl_tensor_shape_t) { names[i], 1, 1 };
    }
    FL_CHECK (fl_tensor_new (many, FL_TENSOR_MAX_VIEWS + 1) == NULL);
    fl_tensor_t *t = fl_tensor_new (many, FL_TENSOR_MAX_VIEWS);
    FL_CHECK (t && fl_tensor_size (t) == FL_TENSOR_MAX_VIEWS);
    fl_tensor_destroy (&t);
}

static void
test_helpers (void)
{
    float a[] = { 3, 4 };
    FL_CHECK_CLOSE (fl_tensor_norm2 (a, 2), 5.0, 0, 1e-15);
    FL_CHECK (fl_tensor_norm2 (a, 0) == 0.0);
    float big[] = { 3e38f, 3e38f, -3e38f, 3e38f };         /* squares overflow float32 */
    FL_CHECK_CLOSE (fl_tensor_norm2 (big, 4), 2.0 * 3e38, 0, 1e-6);
    float tiny[] = { 1e-30f, 1e-30f };
    FL_CHECK_CLOSE (fl_tensor_norm2 (tiny, 2), sqrt (2.0) * 1e-30, 0, 1e-6);
    float withnan[] = { 1, NAN, 2 };
    FL_CHECK (isnan (fl_tensor_norm2 (withnan, 3)));
    float withinf[] = { 1, INFINITY };
    FL_CHECK (isinf (fl_tensor_norm2 (withinf, 2)));
    FL_CHECK (!fl_tensor_all_finite (withnan, 3) && !fl_tensor_all_finite (withinf, 2));
    FL_CHECK (fl_tensor_all_finite (a, 2));

    float x[5] = { 1, 2, 3, 4, 5 }, y[5] = { 10, 20, 30, 40, 50 };
    FL_CHECK_CLOSE (fl_tensor_dot (x, y, 5), 550.0, 0, 0);
    fl_tensor_axpy (-2.0f, x, y, 5);                 /* y = y - 2x */
    FL_CHECK (y[0] == 8 && y[4] == 40);
    fl_tensor_scale (0.5f, y, 5);
    FL_CHECK (y[0] == 4 && y[2] == 12 && y[4] == 20);
    float d[5];
    fl_tensor_sub (d, y, x, 5);
    FL_CHECK (d[0] == 3 && d[4] == 15);
    fl_tensor_sub (y, y, y, 5);                       /* aliasing allowed */
    FL_CHECK (y[0] == 0 && y[4] == 0);
    fl_tensor_copy (x + 1, x, 4);                     /* overlapping copy */
    FL_CHECK (x[0] == 1 && x[1] == 1 && x[2] == 2 && x[4] == 4);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_layout);
    FL_RUN (test_errors);
    FL_RUN (test_helpers);
    FL_TEST_DONE ();
}
