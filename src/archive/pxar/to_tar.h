// A pxar archive as a pax tar stream (`cat --format tar`): what a user
// pipes into tar or any other tool. Entries are named "." and
// "./<path>", as chunkvault's own tar streams; owners by id, mtimes with
// nanoseconds, xattrs (capabilities as security.capability), POSIX ACLs,
// chattr flags; hard links as tar's links to the first name.
//
// Thread-safety: one call per decoder; `out` is called on the caller's
// thread.
#pragma once

#include <functional>

#include "archive/pxar/decoder.h"
#include "chunkvault/tar_observer.h"

namespace chunkvault::pxar {

Result<TarStats> WriteAsTar(Decoder& decoder, const std::function<Status(ByteView)>& out);

}  // namespace chunkvault::pxar
