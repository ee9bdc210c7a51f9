#include "cli/paperkey.h"

#include <qrencode.h>

#include <memory>
#include <sstream>
#include <vector>

#include "chunkvault/key_file.h"

namespace chunkvault::cli {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

std::string Join(const std::vector<std::string>& lines, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to && i < lines.size(); ++i) {
    if (i != from) out += '\n';
    out += lines[i];
  }
  return out;
}

}  // namespace

Result<std::string> QrText(const std::string& text) {
  std::unique_ptr<QRcode, void (*)(QRcode*)> qr(
      QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), QRcode_free);
  if (!qr)
    return Fail(ErrorCode::kInvalidArgument,
                "cannot make a QR code of " + std::to_string(text.size()) + " bytes");
  const int w = qr->width;
  auto dark = [&](int y, int x) { return y < w && (qr->data[y * w + x] & 1) != 0; };
  std::string out;
  for (int y = 0; y < w; y += 2) {
    for (int x = 0; x < w; ++x) {
      const bool top = dark(y, x), bottom = dark(y + 1, x);
      out += top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ";
    }
    out += '\n';
  }
  return out;
}

Result<std::string> PaperKeyText(const std::string& data, const std::string& subject) {
  std::string out;
  if (!subject.empty()) out += "Subject: " + subject + "\n\n";
  const bool pem = data.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n") ||
                   data.starts_with("-----BEGIN RSA PRIVATE KEY-----\n");
  if (pem) {
    const std::vector<std::string> lines = Lines(data);
    if (lines.size() < 20 || !lines.back().starts_with("-----END "))
      return Fail(ErrorCode::kInvalidArgument, "not a whole PEM private key");
    constexpr size_t kBlock = 5;
    for (size_t at = 0; at < lines.size(); at += kBlock) {
      for (size_t i = at; i < at + kBlock && i < lines.size(); ++i) {
        char num[32];
        std::snprintf(num, sizeof num, "%2zu: ", i);
        out += num + lines[i] + "\n";
      }
      CV_ASSIGN_OR_RETURN(std::string qr, QrText(Join(lines, at, at + kBlock)));
      out += qr + "\n\f\n";
    }
    return out;
  }
  auto config = KeyConfig::Parse(data);
  if (!config)
    return Fail(ErrorCode::kInvalidArgument,
                "neither a PEM private key nor a key file: " + config.error().message());
  const std::string json = config->ToJson(/*pretty=*/true);
  out += "-----BEGIN PROXMOX BACKUP KEY-----\n" + json + "\n-----END PROXMOX BACKUP KEY-----\n";
  CV_ASSIGN_OR_RETURN(std::string qr, QrText(json));
  return out + qr;
}

}  // namespace chunkvault::cli
