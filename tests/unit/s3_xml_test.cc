// The S3 API's XML (src/backend/s3/s3_xml.h) on answers of the shapes AWS
// documents: error bodies, listing pages, DeleteObjects results, and the
// request chunkvault builds. The fuzz suite throws mutated bodies at the
// same parsers.
#include <gtest/gtest.h>

#include "backend/s3/s3_xml.h"

namespace chunkvault {
namespace {

TEST(S3Xml, AnErrorBodyGivesCodeMessageAndRequestId) {
  auto e = ParseS3Error(AsBytes(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
      "<Message>The resource you requested does not exist</Message>"
      "<Resource>/b/k</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>"));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, "NoSuchKey");
  EXPECT_EQ(e->message, "The resource you requested does not exist");
  EXPECT_EQ(e->request_id, "4442587FB7D0A2F9");
  EXPECT_FALSE(ParseS3Error(AsBytes("<html>bad gateway</html>")).has_value());
  EXPECT_FALSE(ParseS3Error(AsBytes("")).has_value());
}

TEST(S3Xml, AListingPageDecodesUrlEncodedKeysAndItsContinuation) {
  auto page = ParseListObjectsV2(AsBytes(
      "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<Name>b</Name><Prefix>s/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>"
      "<EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
      "<Contents><Key>s/a%20b+c</Key><Size>12</Size></Contents>"
      "<Contents><Key>s/%C3%A9%2Fx</Key><Size>4294967296</Size></Contents>"
      "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
      "</ListBucketResult>"));
  ASSERT_TRUE(page.has_value()) << page.error().message();
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "s/a b c");
  EXPECT_EQ(page->objects[0].size, 12u);
  EXPECT_EQ(page->objects[1].key, "s/\xc3\xa9/x");
  EXPECT_EQ(page->objects[1].size, uint64_t(1) << 32);
  EXPECT_EQ(page->next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
}

TEST(S3Xml, TheLastPageHasNoTokenAndKeysWithoutEncodingStayAsTheyAre) {
  auto page = ParseListObjectsV2(AsBytes(
      "<ListBucketResult><IsTruncated>false</IsTruncated>"
      "<Contents><Key>s/a%20b</Key><Size>1</Size></Contents></ListBucketResult>"));
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, "s/a%20b");
  EXPECT_TRUE(page->next_token.empty());
}

TEST(S3Xml, ListingsThatCannotBeTrustedAreRefused) {
  for (const char* body :
       {"", "not xml", "<Other/>",
        "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>"}) {
    auto page = ParseListObjectsV2(AsBytes(body));
    ASSERT_FALSE(page.has_value()) << body;
    EXPECT_EQ(page.error().code(), ErrorCode::kCorrupt) << body;
  }
}

TEST(S3Xml, ADeleteResultListsTheKeysThatFailed) {
  auto errors = ParseDeleteResult(AsBytes(
      "<DeleteResult><Deleted><Key>s/ok</Key></Deleted>"
      "<Error><Key>s/locked</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
      "</DeleteResult>"));
  ASSERT_TRUE(errors.has_value()) << errors.error().message();
  ASSERT_EQ(errors->size(), 1u);
  EXPECT_EQ((*errors)[0].key, "s/locked");
  EXPECT_EQ((*errors)[0].code, "AccessDenied");
  EXPECT_EQ((*errors)[0].message, "Access Denied");
  EXPECT_FALSE(ParseDeleteResult(AsBytes("<Error><Code>x</Code></Error>")).has_value());
}

TEST(S3Xml, TheDeleteRequestEscapesKeysAndIsQuiet) {
  const std::string xml = BuildDeleteRequest({"s/a&b", "s/<c>\"'"});
  EXPECT_NE(xml.find("<Quiet>true</Quiet>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<Key>s/a&amp;b</Key>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("s/&lt;c&gt;"), std::string::npos) << xml;
  EXPECT_EQ(xml.find("s/a&b"), std::string::npos) << xml;
  EXPECT_EQ(XmlRootName(AsBytes(xml)), "Delete");
}

TEST(S3Xml, TheRootNameTellsAnErrorFromACopyResult) {
  EXPECT_EQ(XmlRootName(AsBytes("<CopyObjectResult><ETag>x</ETag></CopyObjectResult>")),
            "CopyObjectResult");
  EXPECT_EQ(XmlRootName(AsBytes("<?xml version=\"1.0\"?><Error><Code>InternalError</Code></Error>")),
            "Error");
  EXPECT_EQ(XmlRootName(AsBytes("")), "");
  EXPECT_EQ(XmlRootName(AsBytes("plain text")), "");
}

}  // namespace
}  // namespace chunkvault
