/* dlink runtime: status codes returned by every kernel and by generated models.
 *
 * DLK_OK is 0. dlk_status_str() maps a code to a constant string; the table lives in
 * src/status.c with designated initializers, and tests/firmware/test_kernels_status.py checks
 * that it names every enumerator below.
 */
#ifndef DLINK_STATUS_H
#define DLINK_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    DLK_OK = 0,
    DLK_ERR_NULL_POINTER = 1,  /* a required pointer argument was NULL */
    DLK_ERR_BAD_LENGTH = 2,    /* a buffer length did not match the model's tensor size */
    DLK_ERR_BAD_SHAPE = 3,     /* tensor shapes are inconsistent for the operator */
    DLK_ERR_BAD_PARAM = 4,     /* an operator parameter is out of its valid range */
    DLK_ERR_UNSUPPORTED = 5,   /* a case this runtime does not implement */
    DLK_STATUS_COUNT = 6       /* number of codes; keep last */
} dlk_status_t;

/* Constant, human-readable name of a status code ("DLK_OK", ...); "DLK_UNKNOWN_STATUS" for
 * values outside the enum. */
const char *dlk_status_str(dlk_status_t status);

#ifdef __cplusplus
}
#endif

#endif /* DLINK_STATUS_H */
