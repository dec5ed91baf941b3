#include "backend/plugin_loader.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace radixserve::backend {
namespace {

using ::testing::HasSubstr;

std::string PluginDir() { return std::string(std::getenv("RADIXSERVE_BUILD_DIR")) + "/tests/backend"; }

TEST(PluginLoaderTest, LoadsAGoodPluginAndForwardsCalls) {
  auto backend = LoadPluginBackend(PluginDir() + "/libradixserve_backend_echo.so", "echo");
  ASSERT_TRUE(backend.ok()) << backend.status();
  EXPECT_EQ((*backend)->name(), "echo");
  auto info = (*backend)->Load("m.gguf", BackendOptions{});
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->name, "echo:m.gguf");
  EXPECT_EQ((*backend)->Forward(StepBatch{}).status().code(), absl::StatusCode::kUnimplemented);
}

TEST(PluginLoaderTest, FindsPluginByNameInSearchPath) {
  auto backend = FindAndLoadPluginBackend("echo", {"/nonexistent", PluginDir()});
  ASSERT_TRUE(backend.ok()) << backend.status();
  EXPECT_EQ((*backend)->name(), "echo");
}

TEST(PluginLoaderTest, MissingPluginListsWhereItLooked) {
  auto backend = FindAndLoadPluginBackend("cuda", {"/nonexistent-a", "/nonexistent-b"});
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(backend.status().message(), HasSubstr("libradixserve_backend_cuda.so"));
  EXPECT_THAT(backend.status().message(), HasSubstr("/nonexistent-b"));
}

TEST(PluginLoaderTest, WrongAbiVersionIsRefusedWithBothVersions) {
  auto backend = LoadPluginBackend(PluginDir() + "/libradixserve_backend_oldabi.so", "oldabi");
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(backend.status().message(), HasSubstr("ABI version 999"));
  EXPECT_THAT(backend.status().message(), HasSubstr("libradixserve_backend_oldabi.so"));
}

TEST(PluginLoaderTest, NameMismatchIsRefused) {
  auto backend = LoadPluginBackend(PluginDir() + "/libradixserve_backend_echo.so", "cuda");
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(backend.status().message(), HasSubstr("provides backend 'echo', expected 'cuda'"));
}

TEST(PluginLoaderTest, RefusingPluginReportsItsReason) {
  auto backend = LoadPluginBackend(PluginDir() + "/libradixserve_backend_refuses.so", "refuses");
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(backend.status().message(), HasSubstr("no device here"));
}

TEST(PluginLoaderTest, NotASharedLibraryNamesTheFile) {
  const std::string path = ::testing::TempDir() + "/libradixserve_backend_junk.so";
  std::ofstream(path) << "this is not an ELF file";
  auto backend = LoadPluginBackend(path, "junk");
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(backend.status().message(), HasSubstr(path));
  EXPECT_THAT(backend.status().message(), HasSubstr("cannot be loaded"));
}

TEST(PluginLoaderTest, LibraryWithoutEntryPointIsRefused) {
  auto backend = LoadPluginBackend(PluginDir() + "/libradixserve_backend_noentry.so", "noentry");
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(backend.status().message(), HasSubstr("no entry point 'radixserve_backend_plugin'"));
}

}  // namespace
}  // namespace radixserve::backend
