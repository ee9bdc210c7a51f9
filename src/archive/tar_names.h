// How names go into the pax headers of a backup's tar stream: as the raw
// bytes the filesystem holds, whatever the locale of backup or restore.
//
// libarchive's pax writer converts each entry's names (path, link target,
// user, group) from the locale's charset to UTF-8 and, where that fails,
// stores the entry's names as raw bytes marked "hdrcharset=BINARY". UTF-8
// names would not do: libarchive's reader gives them back NFC-normalised
// (a decomposed "é" would restore as another name), and a non-UTF-8
// locale would convert them on the way in. So the writer's conversion is
// pinned to ASCII: ASCII names go into plain ustar fields (no pax header
// unless a time or attribute needs one) and every other name is stored
// raw. The option "hdrcharset=BINARY" stores raw bytes too, but puts a
// 1 KiB pax header before every entry (5% of a stream of small files;
// GNU tar warns about each).
#pragma once

#include <string_view>

#include "chunkvault/status.h"

struct archive;
struct archive_entry;

namespace chunkvault {

// Pins the conversion of pax writer `a` (archive_write_set_format_pax
// done, not yet opened) to ASCII, whatever this thread's locale.
// Thread-safety: changes only this thread's locale, and only meanwhile.
Status PinTarNamesToAscii(struct archive* a);

// Whether a warning of archive_write_header is libarchive's notice that it
// stored a name as raw bytes ("Can't translate pathname '...' to UTF-8",
// likewise uname, gname, linkname): how names are meant to be stored, not
// a problem. Any other warning means something was left out.
bool IsRawNameNotice(std::string_view message);

// ACL entries name their user or group next to its id; libarchive drops an
// entry's whole ACL when one such name cannot be converted (a non-ASCII
// name, under PinTarNamesToAscii). Removes those names from the entry's
// POSIX ACLs, keeping each id (a restore then applies the id), and returns
// how many it removed.
int DropNonAsciiAclNames(struct archive_entry* entry);

}  // namespace chunkvault
