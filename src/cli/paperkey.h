// A paper key, as PBS prints one: a key file's JSON between "-----BEGIN
// PROXMOX BACKUP KEY-----" lines, or a master private key's PEM lines
// numbered in blocks of five, each followed by its QR code (libqrencode,
// error correction M, drawn with Unicode half blocks, dark modules inked).
#pragma once

#include <string>

#include "chunkvault/status.h"

namespace chunkvault::cli {

// `data`: a key file's JSON or a PEM private key. `subject`: a title
// line, if not empty.
Result<std::string> PaperKeyText(const std::string& data, const std::string& subject);

// The QR code of `text` as lines of half blocks (two module rows a line).
Result<std::string> QrText(const std::string& text);

}  // namespace chunkvault::cli
