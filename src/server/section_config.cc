#include "server/section_config.h"

#include <set>

namespace chunkvault::server {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (IsSpace(s.front()) || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (IsSpace(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool HasSpaceOrControl(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return true;
  return false;
}

bool HasControl(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  return false;
}

}  // namespace

const std::string* ConfigSection::Find(std::string_view key) const {
  for (const auto& [k, v] : properties)
    if (k == key) return &v;
  return nullptr;
}

Result<std::vector<ConfigSection>> ParseSectionConfig(std::string_view text,
                                                      const std::string& file_name) {
  std::vector<ConfigSection> sections;
  std::set<std::pair<std::string, std::string>> seen;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    auto nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    auto bad = [&](const std::string& why) {
      return Fail(ErrorCode::kCorrupt, file_name + " line " + std::to_string(line_no) + ": " + why);
    };
    std::string_view line = Trim(raw);
    if (line.empty() || line.front() == '#') continue;
    if (HasControl(line)) return bad("holds a control character");
    if (IsSpace(raw.front())) {
      if (sections.empty()) return bad("a property outside any section");
      size_t sep = 0;
      while (sep < line.size() && !IsSpace(line[sep])) ++sep;
      std::string key(line.substr(0, sep));
      std::string value(Trim(line.substr(sep)));
      if (sections.back().Find(key)) return bad("'" + key + "' given twice");
      sections.back().properties.emplace_back(std::move(key), std::move(value));
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return bad("expected '<type>: <id>'");
    std::string type(Trim(line.substr(0, colon)));
    std::string id(Trim(line.substr(colon + 1)));
    if (type.empty() || id.empty() || HasSpaceOrControl(type) || HasSpaceOrControl(id))
      return bad("expected '<type>: <id>'");
    if (!seen.emplace(type, id).second) return bad(type + " '" + id + "' defined twice");
    sections.push_back(ConfigSection{std::move(type), std::move(id), {}});
  }
  return sections;
}

Result<std::string> FormatSectionConfig(const std::vector<ConfigSection>& sections) {
  std::string out;
  for (const auto& s : sections) {
    if (s.type.empty() || s.id.empty() || HasSpaceOrControl(s.type) || HasSpaceOrControl(s.id))
      return Fail(ErrorCode::kInvalidArgument, "a section type or id is empty or holds whitespace");
    out += s.type + ": " + s.id + "\n";
    for (const auto& [k, v] : s.properties) {
      if (k.empty() || HasSpaceOrControl(k) || HasControl(v))
        return Fail(ErrorCode::kInvalidArgument,
                    s.type + " '" + s.id +
                        "': a key is empty or holds whitespace, or a value "
                        "holds a control character");
      out += "\t" + k + (v.empty() ? "" : " " + v) + "\n";
    }
    out += "\n";
  }
  return out;
}

}  // namespace chunkvault::server
