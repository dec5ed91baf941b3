// safetensors reader: malformed headers and offsets are reported, never crash.
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/safetensors.h"
#include "tests/model/test_status.h"

namespace radixserve::model {
namespace {

std::vector<uint8_t> File(const std::string& header, size_t data_bytes,
                          std::optional<uint64_t> header_len = std::nullopt) {
  // Sized once and filled in place: GCC 12 at -O3 misreads vector::insert after an
  // 8-byte vector as an out-of-bounds memcpy (-Warray-bounds).
  std::vector<uint8_t> b(8 + header.size() + data_bytes);
  const uint64_t n = header_len.value_or(header.size());
  std::memcpy(b.data(), &n, 8);
  std::memcpy(b.data() + 8, header.data(), header.size());
  for (size_t i = 0; i < data_bytes; ++i) b[8 + header.size() + i] = static_cast<uint8_t>(i);
  return b;
}

absl::Status Parse(const std::vector<uint8_t>& b) { return SafetensorsFile::FromBytes(b).status(); }

TEST(SafetensorsTest, ParsesValidFile) {
  const auto b = File(R"({"__metadata__": {"format": "pt"},
      "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
      "h": {"dtype": "BF16", "shape": [4], "data_offsets": [24, 32]},
      "i": {"dtype": "I64", "shape": [1], "data_offsets": [32, 40]},
      "e": {"dtype": "F16", "shape": [0, 5], "data_offsets": [40, 40]}})",
                      40);
  auto f = SafetensorsFile::FromBytes(b);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
  const SafetensorsTensor* w = (*f)->Find("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(*w->dtype, DType::kF32);
  EXPECT_EQ(w->data.size(), 24u);
  EXPECT_EQ(w->data.data(), b.data() + b.size() - 40);
  EXPECT_EQ(*SafetensorsFile::LoadableDType(*(*f)->Find("h")), DType::kBF16);
  EXPECT_STATUS(SafetensorsFile::LoadableDType(*(*f)->Find("i")).status(), kUnimplemented,
                "dtype I64");
}

TEST(SafetensorsTest, RejectsBadHeaderLengths) {
  EXPECT_STATUS(Parse({1, 2, 3}), kDataLoss, "at least 8");
  EXPECT_STATUS(Parse(File("{}", 0, 1000)), kDataLoss, "header length 1000");
  EXPECT_STATUS(Parse(File("{}", 0, uint64_t{1} << 40)), kInvalidArgument, "limit");
  EXPECT_STATUS(Parse(File("{}", 0, ~uint64_t{0})), kInvalidArgument, "limit");
}

TEST(SafetensorsTest, RejectsBadJson) {
  EXPECT_STATUS(Parse(File("{\"a\": ", 0)), kInvalidArgument, "not valid JSON");
  EXPECT_STATUS(Parse(File("[1, 2]", 0)), kInvalidArgument, "not a JSON object");
  EXPECT_STATUS(Parse(File(R"({"a": 5})", 0)), kInvalidArgument, "not an object");
  EXPECT_STATUS(Parse(File(R"({"__metadata__": {"k": 1}})", 0)), kInvalidArgument,
                "__metadata__");
  EXPECT_STATUS(Parse(File(R"({"a": {"shape": [1], "data_offsets": [0, 4]}})", 4)),
                kInvalidArgument, "dtype");
  EXPECT_STATUS(Parse(File(R"({"a": {"dtype": "F32", "data_offsets": [0, 4]}})", 4)),
                kInvalidArgument, "shape");
  EXPECT_STATUS(Parse(File(R"({"a": {"dtype": "F32", "shape": [1]}})", 4)), kInvalidArgument,
                "data_offsets");
}

TEST(SafetensorsTest, RejectsBadDtypesAndShapes) {
  EXPECT_STATUS(Parse(File(R"({"a": {"dtype": "F7", "shape": [1], "data_offsets": [0, 4]}})", 4)),
                kInvalidArgument, "unknown dtype 'F7'");
  EXPECT_STATUS(Parse(File(R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4)),
                kInvalidArgument, "non-negative");
  EXPECT_STATUS(Parse(File(R"({"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})", 4)),
                kInvalidArgument, "non-negative");
  EXPECT_STATUS(
      Parse(File(R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}})", 4)),
      kInvalidArgument, "overflows");
}

TEST(SafetensorsTest, RejectsInconsistentOffsets) {
  EXPECT_STATUS(Parse(File(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})", 8)),
                kInvalidArgument, "needs 8");
  EXPECT_STATUS(Parse(File(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})", 8)),
                kInvalidArgument, "end before begin");
  EXPECT_STATUS(Parse(File(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})", 8)),
                kDataLoss, "exceed");
  EXPECT_STATUS(
      Parse(File(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [18446744073709551612, 18446744073709551615]}})", 8)),
      kInvalidArgument, "needs 4");
  EXPECT_STATUS(Parse(File(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                               "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", 8)),
                kInvalidArgument, "overlap");
  EXPECT_STATUS(Parse(File(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                               "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", 8)),
                kInvalidArgument, "duplicate tensor name 'a'");
}

TEST(SafetensorsTest, IndexParsing) {
  auto m = ParseSafetensorsIndex(R"({"weight_map": {"a": "x.safetensors"}})");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->at("a"), "x.safetensors");
  EXPECT_STATUS(ParseSafetensorsIndex("nope").status(), kInvalidArgument, "not a JSON object");
  EXPECT_STATUS(ParseSafetensorsIndex("{}").status(), kInvalidArgument, "weight_map");
  EXPECT_STATUS(ParseSafetensorsIndex(R"({"weight_map": {"a": 3}})").status(), kInvalidArgument,
                "not a string");
  for (const char* bad : {"../x.safetensors", "/etc/passwd", "..", "", "d/x"}) {
    EXPECT_STATUS(ParseSafetensorsIndex(std::string(R"({"weight_map": {"a": ")") + bad + "\"}}")
                      .status(),
                  kInvalidArgument, "plain file name");
  }
}

TEST(SafetensorsTest, OpenMissingFile) {
  EXPECT_EQ(SafetensorsFile::Open("/nonexistent.safetensors").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(SafetensorsCheckpoint::Open("/nonexistent-dir/").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace radixserve::model
