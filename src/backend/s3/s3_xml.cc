#include "backend/s3/s3_xml.h"

#include <pugixml.hpp>

#include <sstream>

#include "backend/s3/sigv4.h"

namespace chunkvault {

namespace {

bool Load(pugi::xml_document& doc, ByteView body) {
  return !body.empty() && doc.load_buffer(body.data(), body.size());
}

std::string Text(const pugi::xml_node& n, const char* child) {
  return n.child(child).text().as_string();
}

}  // namespace

std::optional<S3ErrorBody> ParseS3Error(ByteView body) {
  pugi::xml_document doc;
  if (!Load(doc, body)) return std::nullopt;
  pugi::xml_node e = doc.child("Error");
  if (!e) return std::nullopt;
  return S3ErrorBody{Text(e, "Code"), Text(e, "Message"), Text(e, "RequestId")};
}

Result<S3ListPage> ParseListObjectsV2(ByteView body) {
  pugi::xml_document doc;
  if (!Load(doc, body))
    return Fail(ErrorCode::kCorrupt, "the listing is not XML: " +
                                         std::string(AsString(body.subspan(0, std::min<size_t>(body.size(), 200)))));
  pugi::xml_node root = doc.child("ListBucketResult");
  if (!root) return Fail(ErrorCode::kCorrupt, "the listing has no ListBucketResult element");
  const bool url_encoded = std::string(Text(root, "EncodingType")) == "url";
  S3ListPage page;
  for (pugi::xml_node c : root.children("Contents")) {
    S3Object o;
    o.key = Text(c, "Key");
    if (url_encoded) o.key = UriDecode(o.key, /*plus_is_space=*/true);
    o.size = c.child("Size").text().as_ullong();
    page.objects.push_back(std::move(o));
  }
  if (std::string(Text(root, "IsTruncated")) == "true") {
    page.next_token = Text(root, "NextContinuationToken");
    if (page.next_token.empty())
      return Fail(ErrorCode::kCorrupt, "a truncated listing without NextContinuationToken");
  }
  return page;
}

Result<std::vector<S3DeleteError>> ParseDeleteResult(ByteView body) {
  pugi::xml_document doc;
  if (!Load(doc, body)) return Fail(ErrorCode::kCorrupt, "the DeleteObjects answer is not XML");
  pugi::xml_node root = doc.child("DeleteResult");
  if (!root) return Fail(ErrorCode::kCorrupt, "the DeleteObjects answer has no DeleteResult");
  std::vector<S3DeleteError> errors;
  for (pugi::xml_node e : root.children("Error"))
    errors.push_back({Text(e, "Key"), Text(e, "Code"), Text(e, "Message")});
  return errors;
}

std::string BuildDeleteRequest(const std::vector<std::string>& keys) {
  pugi::xml_document doc;
  auto decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  pugi::xml_node del = doc.append_child("Delete");
  del.append_attribute("xmlns") = "http://s3.amazonaws.com/doc/2006-03-01/";
  del.append_child("Quiet").text().set("true");
  for (const std::string& k : keys)
    del.append_child("Object").append_child("Key").text().set(k.c_str());
  std::ostringstream out;
  // Raw output: no indentation, so keys are exactly the text of <Key>.
  doc.save(out, "", pugi::format_raw);
  return out.str();
}

std::string XmlRootName(ByteView body) {
  pugi::xml_document doc;
  if (!Load(doc, body)) return "";
  return doc.document_element().name();
}

}  // namespace chunkvault
