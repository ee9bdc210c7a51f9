// A directory tree as a pxar archive, as PBS's client writes it: entries
// sorted by name, metadata as PBS reads it (fs_metadata.h), hard links
// among regular files, devices, FIFOs and sockets; mount points stored
// as empty directories unless their file system is included, virtual
// file systems (/proc, /sys...) never entered.
//
// Entries that vanish or cannot be read are warnings (skipped), files
// that change while being read are warnings (stored as read, padded or
// cut to the size they had), as with PBS.
//
// Thread-safety: one call at a time per sink; the observer is called on
// the calling thread.
//
// kInvalidArgument for a bad exclude pattern.
#pragma once

#include <string>
#include <vector>

#include "archive/pxar/catalog.h"
#include "archive/pxar/format.h"
#include "archive/pxar/reuse.h"
#include "archive/stream_sink.h"
#include "chunkvault/tar_observer.h"

namespace chunkvault::pxar {

struct TreeWriteOptions {
  // Enter every mounted file system below the root (but virtual ones).
  bool all_file_systems = false;
  // Mount points (paths) whose file systems are entered besides the root's.
  std::vector<std::string> include_devices;
  // Patterns of what to leave out (exclude_rules.h), besides those of
  // the tree's .pxarexclude files. As PBS, they are stored with the
  // archive: a split archive's prelude {"exclude-patterns": "..."}, a
  // unified one's root file .pxarexclude-cli.
  std::vector<std::string> excludes;
  // Metadata change detection (split archives only; reuse.h): a file
  // whose metadata and size equal its entry's in this archive is not
  // read, its data referenced in the previous payload chunks, which join
  // the new payload stream whole, as PBS's client does (docs/pxar.md).
  // A previous archive that cannot be read is a warning, and the files
  // from there on are read. Null: every file is read.
  const PreviousArchive* previous = nullptr;
};

// Writes the tree under directory `root`: a split archive (version 2)
// when `payload` is given, else a unified one. With `catalog`, every
// entry is listed in it too, in the directory the caller started.
Result<TarStats> WriteTree(const std::string& root, const TreeWriteOptions& options,
                           StreamSink& meta, StreamSink* payload, TarObserver* observer,
                           CatalogWriter* catalog = nullptr);

}  // namespace chunkvault::pxar
