// Must not compile: the format layer includes the datastore's public header.
#include "chunkvault/datastore.h"
