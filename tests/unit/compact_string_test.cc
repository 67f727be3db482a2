// CompactString: 16 bytes, up to 15 characters inline, longer ones in one heap block; and
// SubNames: a subscription's subject, queue and sid in 56 bytes, inline up to 53 together.
// Both at their boundaries: empty, the longest inline, one past it, long.
#include "server/core/compact_string.h"
#include "server/core/sub_names.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace pylon::server {
namespace {

TEST(CompactString, EmptyIsInline) {
  CompactString s;
  EXPECT_TRUE(s.is_inline());
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(s.view(), "");
  CompactString t{std::string_view()};
  EXPECT_TRUE(t.is_inline());
  EXPECT_EQ(t, "");
}

TEST(CompactString, FifteenCharactersAreInlineSixteenAreNot) {
  const std::string fifteen(15, 'x'), sixteen = fifteen + "y";
  CompactString a(fifteen), b(sixteen);
  EXPECT_TRUE(a.is_inline());
  EXPECT_EQ(a.size(), 15u);
  EXPECT_EQ(a.view(), fifteen);
  EXPECT_FALSE(b.is_inline());
  EXPECT_EQ(b.size(), 16u);
  EXPECT_EQ(b.view(), sixteen);
  EXPECT_FALSE(a == b);
}

TEST(CompactString, LongStringsAndBytesAreKeptExactly) {
  std::string long_one(5000, 'a');
  for (size_t i = 0; i < long_one.size(); ++i) long_one[i] = static_cast<char>('a' + i % 26);
  CompactString l(long_one);
  EXPECT_EQ(l.view(), long_one);
  const std::string with_nul("a\0b", 3);  // a length, not a terminator
  CompactString n(with_nul);
  EXPECT_EQ(n.size(), 3u);
  EXPECT_EQ(n.view(), with_nul);
}

TEST(CompactString, MoveLeavesTheSourceEmptyAndTheBlockWithTheTarget) {
  const std::string text(40, 'q');
  CompactString a(text);
  const char* block = a.view().data();
  CompactString b(std::move(a));
  EXPECT_EQ(b.view(), text);
  EXPECT_EQ(b.view().data(), block) << "a heap string moves its block, not its bytes";
  EXPECT_EQ(a.view(), "");  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  CompactString c("short");
  c = std::move(b);  // a short target takes a long source
  EXPECT_EQ(c.view(), text);
  CompactString d(std::string(20, 'd'));
  d = CompactString("x");  // a long target frees its block for a short source
  EXPECT_EQ(d.view(), "x");
  EXPECT_TRUE(d.is_inline());
}

TEST(SubNames, ReadsBackEachNameInline) {
  SubNames n("foo.bar", "workers", "17");
  EXPECT_TRUE(n.is_inline());
  EXPECT_EQ(n.subject(), "foo.bar");
  EXPECT_EQ(n.queue(), "workers");
  EXPECT_EQ(n.sid(), "17");
  SubNames plain("foo", "", "1");
  EXPECT_EQ(plain.queue(), "");
  EXPECT_TRUE(plain.queue().empty());
  EXPECT_EQ(plain.sid(), "1");
  SubNames empty("", "", "");
  EXPECT_TRUE(empty.is_inline());
  EXPECT_EQ(empty.subject(), "");
  EXPECT_EQ(empty.sid(), "");
}

TEST(SubNames, FiftyThreeBytesTogetherAreInlineFiftyFourAreNot) {
  // Each name alone at the inline limit, and the three together at it and one past it.
  const std::string s53(53, 's');
  SubNames only_subject(s53, "", "");
  EXPECT_TRUE(only_subject.is_inline());
  EXPECT_EQ(only_subject.subject(), s53);
  SubNames only_sid("", "", s53);
  EXPECT_TRUE(only_sid.is_inline()) << "a sid of the longest inline length is not the heap tag";
  EXPECT_EQ(only_sid.sid(), s53);
  EXPECT_EQ(only_sid.subject(), "");

  const std::string subject(30, 'a'), queue(20, 'b');
  SubNames at(subject, queue, "123");  // 53
  EXPECT_TRUE(at.is_inline());
  EXPECT_EQ(at.subject(), subject);
  EXPECT_EQ(at.queue(), queue);
  EXPECT_EQ(at.sid(), "123");
  SubNames past(subject, queue, "1234");  // 54
  EXPECT_FALSE(past.is_inline());
  EXPECT_EQ(past.subject(), subject);
  EXPECT_EQ(past.queue(), queue);
  EXPECT_EQ(past.sid(), "1234");
}

TEST(SubNames, LongNamesLiveInOneBlock) {
  const std::string subject = "orders." + std::string(300, 'x') + ".created", queue(70, 'w'), sid(300, '9');
  SubNames n(subject, queue, sid);
  EXPECT_FALSE(n.is_inline());
  EXPECT_EQ(n.subject(), subject);
  EXPECT_EQ(n.queue(), queue);
  EXPECT_EQ(n.sid(), sid);
  EXPECT_EQ(n.subject().data(), n.sid().data() + sid.size()) << "one block, back to back";
  EXPECT_EQ(n.queue().data(), n.subject().data() + subject.size());
  SubNames long_plain(subject, "", "1");
  EXPECT_TRUE(long_plain.queue().empty());
  EXPECT_EQ(long_plain.sid(), "1");
}

}  // namespace
}  // namespace pylon::server
