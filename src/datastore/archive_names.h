// Archive and file names inside a snapshot.
//
// Users name archives "root.tar" or "disk.img"; the snapshot holds
// "root.tar.didx" and "disk.img.fidx". Small files end in ".blob". Names
// follow the backup id rules, so they cannot leave the snapshot directory.
#pragma once

#include <string>
#include <vector>

#include "chunkvault/backup_ref.h"
#include "chunkvault/index.h"
#include "chunkvault/manifest.h"
#include "chunkvault/restore.h"

namespace chunkvault {

// The kind of a stored file, from its extension (.didx, .fidx, .blob).
Result<ArchiveReader::Kind> ArchiveKindOf(const std::string& file_name);

// The name an index file is written under before its rename:
// "<stem>.tmp_didx" / ".tmp_fidx" (docs/format.md, "The datastore
// directory").
std::string TmpIndexName(const std::string& file_name);

// Checks a name given to backup: valid characters, ending in `suffix`.
Status CheckArchiveName(const std::string& name, const std::string& suffix);

// Finds the manifest's file for a user's archive name: the name itself or
// with .didx, .fidx or .blob appended. kNotFound lists what there is.
Result<std::string> ResolveArchiveName(const Manifest& manifest, const std::string& archive,
                                       const SnapshotRef& snap);

}  // namespace chunkvault
