// The one form of a name that comes from stored or received bytes and
// becomes a path component.
#pragma once

#include <cstddef>
#include <string_view>

namespace chunkvault {

// PBS's "safe id" form: [A-Za-z0-9_][A-Za-z0-9._-]*, of at most `max_size`
// bytes. Such a name is never empty, ".", ".." or holds a '/', so it can
// name nothing outside the directory it is looked up in. Backup ids,
// namespace components and snapshot file names all take this form.
bool IsSafeName(std::string_view name, size_t max_size);

}  // namespace chunkvault
