// PBS's section-config text format (datastore.cfg, user.cfg): sections of
//
//   <type>: <id>
//   \t<key> <value>
//
// separated by blank lines; '#' starts a comment line. The files are the
// administrator's, but are read as untrusted like everything else: a
// malformed line is an error naming the file and line.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chunkvault/status.h"

namespace chunkvault::server {

struct ConfigSection {
  std::string type;
  std::string id;
  // In file order; a key may appear once per section.
  std::vector<std::pair<std::string, std::string>> properties;

  // The value of `key`, or nullptr.
  const std::string* Find(std::string_view key) const;
};

// kCorrupt "<file_name> line N: ..." for a malformed line, a property
// outside a section, a repeated key or a repeated (type, id).
Result<std::vector<ConfigSection>> ParseSectionConfig(std::string_view text,
                                                      const std::string& file_name);

// The text of `sections`, as PBS writes it (tab-indented properties, a
// blank line after each section). Types, ids, keys and values must not
// hold a newline (kInvalidArgument), nor may ids or keys hold whitespace.
Result<std::string> FormatSectionConfig(const std::vector<ConfigSection>& sections);

}  // namespace chunkvault::server
