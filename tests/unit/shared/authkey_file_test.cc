#include "shared/authkey_file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shared/error_kind.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

class AuthKeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/authkey_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }

  void TearDown() override {
    for (const std::string& path : created_) ::unlink(path.c_str());
    ::rmdir(dir_.c_str());
  }

  std::string Path(const std::string& name) {
    std::string path = dir_ + "/" + name;
    created_.push_back(path);
    return path;
  }

  // Writes contents to a new file and gives it mode.
  std::string WriteFile(const std::string& name, const std::string& contents, mode_t mode) {
    std::string path = Path(name);
    {
      std::ofstream out(path, std::ios::binary);
      out << contents;
    }
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }

  static std::string Contents(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  static mode_t Mode(const std::string& path) {
    struct stat st;
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
    return st.st_mode & 07777;
  }

  std::string dir_;
  std::vector<std::string> created_;
};

TEST_F(AuthKeyFileTest, GenerateWritesAPrivateHexKey) {
  std::string path = Path("key");
  absl::StatusOr<std::string> key = GenerateAuthKeyFile(path);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_THAT(*key, MatchesRegex("[0-9a-f]{64}"));
  EXPECT_EQ(Contents(path), *key + "\n");
  EXPECT_EQ(Mode(path), 0600u);
}

TEST_F(AuthKeyFileTest, GenerateIsPrivateWhateverTheUmask) {
  mode_t old = ::umask(0);
  absl::StatusOr<std::string> key = GenerateAuthKeyFile(Path("key"));
  ::umask(old);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(Mode(dir_ + "/key"), 0600u);
}

TEST_F(AuthKeyFileTest, GeneratedKeysDiffer) {
  absl::StatusOr<std::string> a = GenerateAuthKeyFile(Path("a"));
  absl::StatusOr<std::string> b = GenerateAuthKeyFile(Path("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
}

TEST_F(AuthKeyFileTest, GenerateThenReadRoundTrips) {
  std::string path = Path("key");
  absl::StatusOr<std::string> key = GenerateAuthKeyFile(path);
  ASSERT_TRUE(key.ok()) << key.status();
  absl::StatusOr<std::string> read = ReadAuthKeyFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, *key);
}

TEST_F(AuthKeyFileTest, GenerateRefusesToReplaceAFile) {
  std::string path = WriteFile("key", "existing\n", 0600);
  absl::StatusOr<std::string> key = GenerateAuthKeyFile(path);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(ErrorKindOf(key.status()), ErrorKind::kValueError);
  EXPECT_THAT(key.status().message(), HasSubstr(path));
  EXPECT_EQ(Contents(path), "existing\n");
}

TEST_F(AuthKeyFileTest, GenerateInMissingDirectoryFails) {
  absl::StatusOr<std::string> key = GenerateAuthKeyFile(dir_ + "/missing/key");
  EXPECT_FALSE(key.ok());
}

TEST_F(AuthKeyFileTest, ReadStripsTrailingWhitespaceOnly) {
  std::string path = WriteFile("key", "  my secret \t\r\n\n", 0600);
  absl::StatusOr<std::string> key = ReadAuthKeyFile(path);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, "  my secret");
}

TEST_F(AuthKeyFileTest, ReadAcceptsOwnerOnlyModes) {
  std::string path = WriteFile("key", "secret", 0400);
  absl::StatusOr<std::string> key = ReadAuthKeyFile(path);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, "secret");
}

TEST_F(AuthKeyFileTest, ReadRejectsAWorldReadableFile) {
  std::string path = WriteFile("key", "secret\n", 0644);
  absl::StatusOr<std::string> key = ReadAuthKeyFile(path);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(ErrorKindOf(key.status()), ErrorKind::kValueError);
  EXPECT_THAT(key.status().message(), HasSubstr("chmod 600 " + path));
  EXPECT_THAT(key.status().message(), HasSubstr("0644"));
}

TEST_F(AuthKeyFileTest, ReadRejectsAnyGroupOrOtherPermission) {
  for (mode_t mode : {0640, 0610, 0604, 0602, 0601, 0620}) {
    SCOPED_TRACE(mode);
    std::string path = WriteFile("key" + std::to_string(mode), "secret\n", mode);
    EXPECT_EQ(ErrorKindOf(ReadAuthKeyFile(path).status()), ErrorKind::kValueError);
  }
}

TEST_F(AuthKeyFileTest, ReadRejectsAnEmptyKey) {
  std::string empty = WriteFile("empty", "", 0600);
  absl::StatusOr<std::string> key = ReadAuthKeyFile(empty);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(ErrorKindOf(key.status()), ErrorKind::kValueError);
  EXPECT_THAT(key.status().message(), HasSubstr(empty));

  std::string blank = WriteFile("blank", " \n\t\n", 0600);
  EXPECT_EQ(ErrorKindOf(ReadAuthKeyFile(blank).status()), ErrorKind::kValueError);
}

TEST_F(AuthKeyFileTest, ReadOfAMissingFileNamesThePath) {
  std::string path = dir_ + "/nope";
  absl::StatusOr<std::string> key = ReadAuthKeyFile(path);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(ErrorKindOf(key.status()), ErrorKind::kValueError);
  EXPECT_THAT(key.status().message(), HasSubstr(path));
  EXPECT_THAT(key.status().message(), HasSubstr("does not exist"));
}

TEST_F(AuthKeyFileTest, ReadRejectsAFifoWithoutBlocking) {
  std::string path = Path("fifo");
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  EXPECT_EQ(ErrorKindOf(ReadAuthKeyFile(path).status()), ErrorKind::kValueError);
}

TEST_F(AuthKeyFileTest, GenerateDoesNotFollowASymlink) {
  std::string target = Path("target");
  std::string link = Path("link");
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  EXPECT_FALSE(GenerateAuthKeyFile(link).ok());
  EXPECT_NE(::access(target.c_str(), F_OK), 0);
}

TEST_F(AuthKeyFileTest, ReadRejectsADirectory) {
  ASSERT_EQ(::chmod(dir_.c_str(), 0700), 0);
  EXPECT_EQ(ErrorKindOf(ReadAuthKeyFile(dir_).status()), ErrorKind::kValueError);
}

}  // namespace
}  // namespace shoal
