// Must not compile: the util layer includes a header of the store layer.
#include "store/chunk_store.h"
