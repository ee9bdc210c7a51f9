// Restoring a pxar archive into a directory, confined as a tar restore is
// (TreeRestorer, tree_restorer.h), with PBS's metadata: numeric owners
// (when restoring as root), mode, mtime, the xattrs PBS keeps, file
// capabilities, ACLs, chattr flags.
//
// Thread-safety: one call per decoder.
#pragma once

#include <functional>
#include <string>

#include "archive/pxar/decoder.h"
#include "archive/tar.h"

namespace chunkvault::pxar {

// Which entries to restore, by path from the root ("" the root): a
// directory left out is left out with everything below it. Null: all.
using EntryFilter = std::function<bool(const Entry& entry)>;

// Restores what `decoder` reads (from its start) below `target`.
Result<TarStats> ExtractPxar(Decoder& decoder, const std::string& target,
                             const ExtractOptions& options, TarObserver* observer,
                             const EntryFilter& filter = nullptr);

}  // namespace chunkvault::pxar
