/* dlink runtime: status code names (kept in sync with dlink/status.h by a test). */
#include "dlink/status.h"

static const char *const dlk_status_names[DLK_STATUS_COUNT] = {
    [DLK_OK] = "DLK_OK",
    [DLK_ERR_NULL_POINTER] = "DLK_ERR_NULL_POINTER",
    [DLK_ERR_BAD_LENGTH] = "DLK_ERR_BAD_LENGTH",
    [DLK_ERR_BAD_SHAPE] = "DLK_ERR_BAD_SHAPE",
    [DLK_ERR_BAD_PARAM] = "DLK_ERR_BAD_PARAM",
    [DLK_ERR_UNSUPPORTED] = "DLK_ERR_UNSUPPORTED",
};

const char *dlk_status_str(dlk_status_t status)
{
    const int index = (int)status;
    if (index < 0 || index >= (int)DLK_STATUS_COUNT || dlk_status_names[index] == 0) {
        return "DLK_UNKNOWN_STATUS";
    }
    return dlk_status_names[index];
}
