// Must not compile: a program of the public API (as the CLI) includes an
// internal header.
#include "datastore/datastore_impl.h"
