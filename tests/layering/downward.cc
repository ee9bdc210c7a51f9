// Must compile: the store layer includes its own, util's and format's
// headers (the control of the probes beside it).
#include "chunkvault/blob.h"
#include "chunkvault/status.h"
#include "store/chunk_store.h"
#include "util/fd.h"
