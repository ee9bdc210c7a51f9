// The XML of the S3 API: error bodies, ListObjectsV2 and DeleteObjects
// results, and the DeleteObjects request. Parsed with pugixml: S3 answers
// are untrusted input, so no hand-written parser.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "chunkvault/bytes.h"
#include "chunkvault/status.h"

namespace chunkvault {

struct S3ErrorBody {
  std::string code;     // "NoSuchKey", "AccessDenied", ...
  std::string message;
  std::string request_id;
};
// The <Error> document of a failed request, if the body is one.
std::optional<S3ErrorBody> ParseS3Error(ByteView body);

struct S3Object {
  std::string key;
  uint64_t size = 0;
};
struct S3ListPage {
  std::vector<S3Object> objects;
  std::string next_token;  // empty: the listing is complete
};
// A ListBucketResult. Keys are URL-decoded when the response says
// EncodingType=url (we always ask for it: keys may hold characters XML 1.0
// cannot carry).
Result<S3ListPage> ParseListObjectsV2(ByteView body);

struct S3DeleteError {
  std::string key, code, message;
};
Result<std::vector<S3DeleteError>> ParseDeleteResult(ByteView body);
// <Delete><Quiet>true</Quiet><Object><Key>...</Key></Object>...</Delete>,
// keys XML-escaped.
std::string BuildDeleteRequest(const std::vector<std::string>& keys);

// The root element name of an XML body ("" if not XML): CopyObject can
// answer 200 with an <Error> document.
std::string XmlRootName(ByteView body);

}  // namespace chunkvault
