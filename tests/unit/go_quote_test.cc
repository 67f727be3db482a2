// Go's %q (proto/go_quote.h), which the log lines and config dumps quote with. The expected
// texts are what Go 1.19's fmt.Printf("%q", []byte(s)) printed for each input.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "proto/go_quote.h"

namespace pylon::proto {
namespace {

TEST(GoQuote, MatchesGosPercentQ) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a b", R"("a b")"},
      {"\a\b\f\v\t\r\n\"\\", R"("\a\b\f\v\t\r\n\"\\")"},
      {std::string("\x00\x1f\x7f", 3), R"("\x00\x1f\x7f")"},
      {"\xff", R"("\xff")"},                          // no UTF-8 sequence starts so
      {"\xc3\xa9", "\"\xc3\xa9\""},                   // é, printed as is
      {"\xc2\x85", R"("\u0085")"},                    // a C1 control
      {"\xc2\xad", R"("\u00ad")"},                    // the soft hyphen, which Go does not print
      {"\xc2\xa0", R"("\u00a0")"},                    // nor a space other than ASCII's
      {"\xe3\x80\x80", R"("\u3000")"},
      {"\xe2\x80\xa8", R"("\u2028")"},                // a line separator
      {"\xe2\x80\x8b", R"("\u200b")"},                // a zero-width space
      {"\xef\xbb\xbf", R"("\ufeff")"},                // a byte-order mark
      {"\xc2\xa1", "\"\xc2\xa1\""},                    // ¡, printed
      {"'", R"("'")"},
      {"\xc0\x80", R"("\xc0\x80")"},                  // an overlong NUL
      {"\xe2\x82", R"("\xe2\x82")"},                  // a sequence cut short
      {"\xed\xa0\x80", R"("\xed\xa0\x80")"},          // a surrogate
      {"\xf4\x90\x80\x80", R"("\xf4\x90\x80\x80")"},  // past U+10FFFF
      {"\xe6\x97\xa5\xe6\x9c\xac\xe2\x82\xac", "\"\xe6\x97\xa5\xe6\x9c\xac\xe2\x82\xac\""},  // 日本€
      {"\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""},   // U+1F600
  };
  for (const auto& [in, want] : cases) {
    std::string out;
    append_go_quoted(out, in);
    EXPECT_EQ(out, want) << "input of " << in.size() << " bytes";
  }
}

}  // namespace
}  // namespace pylon::proto
