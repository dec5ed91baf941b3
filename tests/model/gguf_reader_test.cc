// GGUF reader: valid files, and every class of malformed file yields the right status
// with a message naming the problem (never a crash).
#include <cstdio>
#include <fstream>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/gguf.h"
#include "tests/model/gguf_builder.h"
#include "tests/model/test_status.h"

namespace radixserve::model {
namespace {

using ::testing::HasSubstr;
using testing::ByteWriter;
using testing::GgufBuilder;
using testing::TensorSpec;

GgufBuilder ValidBuilder() {
  GgufBuilder b;
  b.KvString("general.architecture", "llama").KvU32("answer", 42);
  b.Tensor({"a", {32, 2}, 0}).Tensor({"b", {64}, 8 /*Q8_0*/});
  return b;
}

absl::Status Parse(const std::vector<uint8_t>& bytes) {
  return GgufFile::FromBytes(bytes).status();
}


TEST(GgufReaderTest, ParsesValidFile) {
  const auto bytes = ValidBuilder().Build();
  auto f = GgufFile::FromBytes(bytes);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->version(), 3u);
  EXPECT_EQ((*f)->alignment(), 32u);
  EXPECT_EQ(*(*f)->GetString("general.architecture"), "llama");
  EXPECT_EQ(*(*f)->GetInt("answer"), 42);
  ASSERT_EQ((*f)->tensors().size(), 2u);
  const GgufTensorInfo* a = (*f)->FindTensor("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{32, 2}));
  EXPECT_EQ(a->num_bytes, 256u);
  EXPECT_EQ(a->data.data(), bytes.data() + (*f)->data_offset());
  const GgufTensorInfo* b = (*f)->FindTensor("b");
  EXPECT_EQ(b->type, DType::kQ8_0);
  EXPECT_EQ(b->offset, 256u);
  EXPECT_EQ(b->num_bytes, 68u);
  EXPECT_EQ((*f)->FindTensor("c"), nullptr);
}

TEST(GgufReaderTest, VersionTwoParsesLikeThree) {
  GgufBuilder b = ValidBuilder();
  b.version = 2;
  auto f = GgufFile::FromBytes(b.Build());
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->version(), 2u);
}

TEST(GgufReaderTest, HonoursGeneralAlignment) {
  GgufBuilder b;
  b.alignment = 64;
  b.KvU32("general.alignment", 64).Tensor({"a", {4}, 0}).Tensor({"b", {4}, 0});
  auto f = GgufFile::FromBytes(b.Build());
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->alignment(), 64u);
  EXPECT_EQ((*f)->data_offset() % 64, 0u);
  EXPECT_EQ((*f)->FindTensor("b")->offset, 64u);
}

TEST(GgufReaderTest, EveryTruncationFailsCleanly) {
  const auto bytes = ValidBuilder().Build();
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + n);
    const absl::Status s = Parse(prefix);
    ASSERT_FALSE(s.ok()) << "prefix " << n;
    EXPECT_TRUE(s.code() == absl::StatusCode::kDataLoss) << "prefix " << n << ": " << s;
    EXPECT_THAT(std::string(s.message()), ::testing::AnyOf(HasSubstr("truncated"), HasSubstr("outside")));
  }
}

TEST(GgufReaderTest, RejectsBadMagic) {
  GgufBuilder b = ValidBuilder();
  b.magic = 0x46554746;
  EXPECT_STATUS(Parse(b.Build()), kInvalidArgument, "bad magic");
}

TEST(GgufReaderTest, RejectsUnsupportedVersions) {
  for (uint32_t v : {0u, 1u, 4u, 1000u}) {
    GgufBuilder b = ValidBuilder();
    b.version = v;
    EXPECT_STATUS(Parse(b.Build()), kInvalidArgument, "unsupported version");
  }
  GgufBuilder b = ValidBuilder();
  b.version = 0x03000000;  // a big-endian v3 file read little-endian
  EXPECT_STATUS(Parse(b.Build()), kUnimplemented, "big-endian");
}

TEST(GgufReaderTest, RejectsHugeCounts) {
  GgufBuilder b = ValidBuilder();
  b.kv_count = std::numeric_limits<uint64_t>::max();
  EXPECT_STATUS(Parse(b.Build()), kDataLoss, "metadata key-value count");
  b = ValidBuilder();
  b.tensor_count = uint64_t{1} << 60;
  EXPECT_STATUS(Parse(b.Build()), kDataLoss, "tensor info count");
  b = GgufBuilder();
  ByteWriter arr;
  arr.Pod<uint32_t>(4).Pod<uint64_t>(uint64_t{1} << 61);  // 2^61 uint32 elements
  b.Kv("big", 9, arr.bytes());
  EXPECT_STATUS(Parse(b.Build()), kDataLoss, "array element count");
}

TEST(GgufReaderTest, RejectsHugeStringLength) {
  GgufBuilder b;
  ByteWriter s;
  s.Pod<uint64_t>(std::numeric_limits<uint64_t>::max()).Pod<uint32_t>(0);
  b.Kv("s", 8, s.bytes());
  EXPECT_STATUS(Parse(b.Build()), kDataLoss, "string value has length");
}

TEST(GgufReaderTest, RejectsUnknownValueTypes) {
  GgufBuilder b;
  b.Kv("k", 13, GgufBuilder::U32(0));
  EXPECT_STATUS(Parse(b.Build()), kInvalidArgument, "unknown value type 13");
  b = GgufBuilder();
  ByteWriter arr;
  arr.Pod<uint32_t>(77).Pod<uint64_t>(1);
  b.Kv("k", 9, arr.bytes());
  EXPECT_STATUS(Parse(b.Build()), kInvalidArgument, "unknown array element type 77");
}

TEST(GgufReaderTest, RejectsBadBool) {
  GgufBuilder b;
  b.Kv("flag", 7, {2});
  EXPECT_STATUS(Parse(b.Build()), kInvalidArgument, "bool value 2");
}

TEST(GgufReaderTest, ReadsNestedArraysAndRejectsDeepNesting) {
  ByteWriter nested;  // [[1, 2], [3]] of uint8
  nested.Pod<uint32_t>(9).Pod<uint64_t>(2);
  nested.Pod<uint32_t>(0).Pod<uint64_t>(2).Pod<uint8_t>(1).Pod<uint8_t>(2);
  nested.Pod<uint32_t>(0).Pod<uint64_t>(1).Pod<uint8_t>(3);
  GgufBuilder b;
  b.Kv("n", 9, nested.bytes());
  auto f = GgufFile::FromBytes(b.Build());
  ASSERT_TRUE(f.ok()) << f.status();
  const auto& outer = std::get<std::shared_ptr<GgufArray>>((*f)->FindValue("n")->value);
  ASSERT_EQ(outer->element_type, GgufValueType::kArray);
  ASSERT_EQ(outer->elements.size(), 2u);
  const auto& first = std::get<std::shared_ptr<GgufArray>>(outer->elements[0].value);
  EXPECT_EQ(std::get<uint64_t>(first->elements[1].value), 2u);

  ByteWriter deep;
  for (int i = 0; i < 20; ++i) deep.Pod<uint32_t>(9).Pod<uint64_t>(1);
  deep.Pod<uint32_t>(0).Pod<uint64_t>(0);
  b = GgufBuilder();
  b.Kv("deep", 9, deep.bytes());
  EXPECT_STATUS(Parse(b.Build()), kInvalidArgument, "nested deeper");
}

TEST(GgufReaderTest, RejectsDuplicates) {
  GgufBuilder b = ValidBuilder();
  b.KvU32("answer", 43);
  EXPECT_STATUS(Parse(b.Build()), kInvalidArgument, "duplicate metadata key 'answer'");
  b = ValidBuilder();
  b.Tensor({"a", {32}, 0});
  EXPECT_STATUS(Parse(b.Build()), kInvalidArgument, "duplicate tensor name 'a'");
}

TEST(GgufReaderTest, RejectsTensorsOutsideTheFile) {
  GgufBuilder b;
  b.Tensor({"a", {32}, 0, uint64_t{1} << 20});
  EXPECT_STATUS(Parse(b.Build()), kDataLoss, "outside");
  b = GgufBuilder();
  b.Tensor({"a", {32}, 0, std::numeric_limits<uint64_t>::max() - 31});  // aligned, overflows
  EXPECT_STATUS(Parse(b.Build()), kDataLoss, "outside");
  b = ValidBuilder();
  b.write_data = false;
  EXPECT_STATUS(Parse(b.Build()), kDataLoss, "outside");
}

TEST(GgufReaderTest, RejectsMisalignedAndOverlappingTensors) {
  GgufBuilder b;
  b.Tensor({"a", {32}, 0, 4});
  EXPECT_STATUS(Parse(b.Build()), kInvalidArgument, "not a multiple of the alignment 32");
  b = GgufBuilder();
  b.Tensor({"a", {64}, 0}).Tensor({"b", {32}, 0, 128});  // a covers [0, 256)
  EXPECT_STATUS(Parse(b.Build()), kInvalidArgument, "overlap");
}

TEST(GgufReaderTest, RejectsBadTensorTypesAndShapes) {
  GgufBuilder b;
  b.Tensor({"a", {32}, 99});
  EXPECT_STATUS(Parse(b.Build()), kInvalidArgument, "unknown type id 99");
  b = GgufBuilder();
  b.Tensor({"a", {32}, 4});  // 4 and 5 were Q4_2/Q4_3, removed from GGML
  EXPECT_STATUS(Parse(b.Build()), kInvalidArgument, "unknown type id 4");
  b = GgufBuilder();
  b.Tensor({"a", {32, 0}, 0});
  EXPECT_STATUS(Parse(b.Build()), kInvalidArgument, "must be positive");
  b = GgufBuilder();
  b.Tensor({"a", {32, std::numeric_limits<uint64_t>::max()}, 0});  // -1 as int64
  EXPECT_STATUS(Parse(b.Build()), kInvalidArgument, "must be positive");
  b = GgufBuilder();
  b.Tensor({"a", {}, 0});
  EXPECT_STATUS(Parse(b.Build()), kInvalidArgument, "0 dimensions");
  b = GgufBuilder();
  b.Tensor({"a", {1, 1, 1, 1, 1}, 0});
  EXPECT_STATUS(Parse(b.Build()), kInvalidArgument, "5 dimensions");
  b = GgufBuilder();
  b.Tensor({"a", {33}, 2 /*Q4_0*/});
  EXPECT_STATUS(Parse(b.Build()), kInvalidArgument, "not a multiple of the Q4_0 block size 32");
  b = GgufBuilder();
  b.Tensor({"a", {uint64_t{1} << 40, uint64_t{1} << 40}, 0});
  EXPECT_STATUS(Parse(b.Build()), kInvalidArgument, "element count overflows");
}

TEST(GgufReaderTest, RejectsBadAlignment) {
  for (uint32_t a : {0u, 3u, 48u, 1u << 30}) {
    GgufBuilder b;
    b.KvU32("general.alignment", a);
    EXPECT_STATUS(Parse(b.Build()), kInvalidArgument, "general.alignment");
  }
  GgufBuilder b;
  b.KvString("general.alignment", "32");
  EXPECT_STATUS(Parse(b.Build()), kInvalidArgument, "general.alignment");
}

TEST(GgufReaderTest, TypedGetters) {
  GgufBuilder b;
  ByteWriter big;
  big.Pod<uint64_t>(std::numeric_limits<uint64_t>::max());
  b.KvString("s", "x").Kv("big", 10, big.bytes()).KvStringArray("arr", {"p", "q"});
  b.Kv("f", 6, {0, 0, 0x80, 0x3f});  // 1.0f
  auto f = GgufFile::FromBytes(b.Build());
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_STATUS((*f)->GetInt("missing").status(), kNotFound, "missing");
  EXPECT_STATUS((*f)->GetInt("s").status(), kInvalidArgument, "expected an integer, found string");
  EXPECT_STATUS((*f)->GetInt("big").status(), kOutOfRange, "does not fit");
  EXPECT_STATUS((*f)->GetIntArray("arr").status(), kInvalidArgument, "expected an integer");
  EXPECT_STATUS((*f)->GetStringArray("s").status(), kInvalidArgument, "expected an array");
  EXPECT_EQ(*(*f)->GetStringArray("arr"), (std::vector<std::string>{"p", "q"}));
  EXPECT_EQ(*(*f)->GetFloat("f"), 1.0);
  EXPECT_STATUS((*f)->GetBool("f").status(), kInvalidArgument, "expected a bool");
}

TEST(GgufReaderTest, OpenReportsMissingAndEmptyFiles) {
  EXPECT_EQ(GgufFile::Open("/nonexistent/x.gguf").status().code(), absl::StatusCode::kNotFound);
  const std::string path = ::testing::TempDir() + "/empty.gguf";
  std::ofstream(path).close();
  EXPECT_STATUS(GgufFile::Open(path).status(), kDataLoss, "truncated");
  EXPECT_THAT(std::string(GgufFile::Open(path).status().message()), HasSubstr(path));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace radixserve::model
