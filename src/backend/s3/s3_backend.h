// Backend on an S3 bucket.
#pragma once

#include <memory>

#include "backend/s3/s3_client.h"
#include "chunkvault/backend.h"

namespace chunkvault {

// Keys are used as they are (the caller adds any prefix). List pages
// through ListObjectsV2 with `page_size` keys per request.
std::unique_ptr<Backend> NewS3Backend(std::shared_ptr<S3Client> client, int page_size = 1000);

}  // namespace chunkvault
