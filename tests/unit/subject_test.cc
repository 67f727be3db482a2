// Subject validation and matching, following the reference server's sublist.go
// (IsValidSubject, IsValidLiteralSubject, subjectIsLiteral, matchLiteral) case for case.
#include "proto/subject.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pylon::proto {
namespace {

struct Case {
  const char* subject;
  bool valid;
};

TEST(SubjectSubscribe, TheReferencesValidSubjectTable) {
  // sublist_test.go TestSublistValidSubjects
  const std::vector<Case> cases = {
      {".", false},         {".foo", false},       {"foo.", false},      {"foo..bar", false},
      {">.bar", false},     {"foo.>.bar", false},  {"foo", true},        {"foo.bar.*", true},
      {"foo.bar.>", true},  {"*", true},           {">", true},          {"foo*", true},
      {"foo**", true},      {"foo.**", true},      {"foo*bar", true},    {"foo.*bar", true},
      {"foo*.bar", true},   {"*bar", true},        {"foo>", true},       {"foo.>>", true},
      {"foo>bar", true},    {"foo.>bar", true},    {"foo>.bar", true},   {">bar", true},
  };
  for (const Case& c : cases) EXPECT_EQ(valid_subscribe_subject(c.subject), c.valid) << c.subject;
}

TEST(SubjectSubscribe, EmptySubjectsAndTokensAreInvalid) {
  EXPECT_FALSE(valid_subscribe_subject(""));
  EXPECT_FALSE(valid_subscribe_subject(".."));
  EXPECT_FALSE(valid_subscribe_subject("a..b"));
  EXPECT_FALSE(valid_subscribe_subject("a.b."));
}

TEST(SubjectSubscribe, WildcardTokens) {
  EXPECT_TRUE(valid_subscribe_subject("*.*.*"));
  EXPECT_TRUE(valid_subscribe_subject("*.>"));
  EXPECT_TRUE(valid_subscribe_subject("foo.*.bar.>"));
  EXPECT_FALSE(valid_subscribe_subject(">.>"));
  EXPECT_FALSE(valid_subscribe_subject("foo.>.*"));
  EXPECT_FALSE(valid_subscribe_subject(">.*"));
}

TEST(SubjectSubscribe, WhitespaceIsInvalidAnywhere) {
  for (const char* s : {"foo bar", " foo", "foo ", "foo.\tbar", "a.b\r", "a\n", "a.\f", " ", "\t", "foo. .bar"}) {
    EXPECT_FALSE(valid_subscribe_subject(s)) << s;
  }
}

TEST(SubjectSubscribe, PedanticRefusesWildcardCharactersInsideTokens) {
  for (const char* s : {"foo*", "foo.*bar", "foo>", "foo.>bar", ">bar", "a.**", "a.>>"}) {
    EXPECT_TRUE(valid_subscribe_subject(s, false)) << s;
    EXPECT_FALSE(valid_subscribe_subject(s, true)) << s;
  }
  for (const char* s : {"foo", "foo.*", "foo.>", "*", ">", "a.*.b"}) {
    EXPECT_TRUE(valid_subscribe_subject(s, true)) << s;
  }
  EXPECT_FALSE(valid_subscribe_subject("foo.>.bar", true));
}

TEST(SubjectPublish, PedanticIsTheReferencesValidPublishSubject) {
  // IsValidPublishSubject = IsValidSubject && subjectIsLiteral
  const std::vector<Case> cases = {
      {"foo", true},           {"foo.bar", true},     {".foo", false},       {"foo.", false},
      {"foo..bar", false},     {"foo.bar.*", false},  {"foo.bar.>", false},  {"*", false},
      {">", false},            {"foo*", true},        {"foo**", true},       {"foo.**", true},
      {"foo*bar", true},       {"foo.*bar", true},    {"foo*.bar", true},    {"*bar", true},
      {"foo>", true},          {"foo>>", true},       {"foo.>>", true},      {"foo>bar", true},
      {"foo.>bar", true},      {"foo>.bar", true},    {">bar", true},        {"foo bar", false},
      {"", false},
  };
  for (const Case& c : cases) EXPECT_EQ(valid_publish_subject(c.subject, true), c.valid) << c.subject;
}

TEST(SubjectPublish, FastCheckOnlyLooksForWhitespaceAndEmptyTokens) {
  EXPECT_TRUE(valid_publish_subject("foo.bar"));
  EXPECT_TRUE(valid_publish_subject("foo.*"));      // not looked at without pedantic
  EXPECT_TRUE(valid_publish_subject("foo.>.bar"));
  EXPECT_FALSE(valid_publish_subject(""));
  EXPECT_FALSE(valid_publish_subject("foo..bar"));
  EXPECT_FALSE(valid_publish_subject(".foo"));
  EXPECT_FALSE(valid_publish_subject("foo."));
  EXPECT_FALSE(valid_publish_subject("foo bar"));
  EXPECT_FALSE(valid_publish_subject("foo\tbar"));
}

// The rule of the non-pedantic publish check, written out byte by byte: non-empty, no
// empty token, none of the whitespace the reference refuses.
bool publish_rule(std::string_view s) {
  if (s.empty()) return false;
  size_t token = 0;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') return false;
    if (c != '.') {
      ++token;
    } else if (token == 0) {
      return false;
    } else {
      token = 0;
    }
  }
  return token != 0;
}

// The client checks every published subject 16 bytes at a time (subject.cc): a block
// boundary, the overlapping last block and the short-subject copy must not change a verdict.
// Each subject is its own exactly-sized heap string, so an ASan build sees any read past it.
TEST(SubjectPublish, TheBlockCheckAgreesWithTheRuleAtEveryLengthAndPosition) {
  const std::string specials = std::string(".\x20\t\n\r\f\v\x01\x1f\x21\x7f\x80\xff*>", 15) + std::string(1, '\0');
  for (size_t len = 0; len <= 70; ++len) {
    const std::string base(len, 'a');
    EXPECT_EQ(valid_publish_subject(base), publish_rule(base)) << len;
    for (size_t i = 0; i < len; ++i) {
      for (char c : specials) {
        std::string one = base;
        one[i] = c;
        ASSERT_EQ(valid_publish_subject(one), publish_rule(one)) << "length " << len << ", byte " << int(c) << " at " << i;
      }
      for (size_t j = i + 1; j < len; ++j) {  // two dots: adjacent ones make an empty token
        std::string two = base;
        two[i] = '.';
        two[j] = '.';
        ASSERT_EQ(valid_publish_subject(two), publish_rule(two)) << "length " << len << ", dots at " << i << ", " << j;
      }
    }
  }
}

TEST(SubjectPublish, TheBlockCheckAgreesWithTheRuleOnRandomSubjects) {
  const std::string alphabet = std::string("ab.\x20\t\v\r*>\xff", 10);
  uint64_t x = 0x9E3779B97F4A7C15ull;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int k = 0; k < 200000; ++k) {
    std::string s(next() % 48, 'a');
    for (char& c : s) c = alphabet[next() % (next() % 4 == 0 ? alphabet.size() : 3)];
    ASSERT_EQ(valid_publish_subject(s), publish_rule(s)) << "'" << s << "'";
  }
}

TEST(SubjectLiteral, TheReferencesSubjectIsLiteralTable) {
  const std::vector<Case> cases = {
      {"foo", true},        {"foo.bar", true},     {"foo*.bar", true},   {"*", false},
      {">", false},         {"foo.*", false},      {"foo.>", false},     {"foo.*.>", false},
      {"foo.*.bar", false}, {"foo.bar.>", false},  {"a>b", true},        {"*.a", false},
  };
  for (const Case& c : cases) EXPECT_EQ(is_literal(c.subject), c.valid) << c.subject;
}

struct Match {
  const char* pattern;
  const char* subject;
  bool matches;
};

TEST(SubjectMatches, TheReferencesMatchLiteralTable) {
  // sublist_test.go TestSublistMatchLiterals (matchLiteral(literal, pattern)).
  const std::vector<Match> cases = {
      {"foo", "foo", true},
      {"bar", "foo", false},
      {"*", "foo", true},
      {">", "foo", true},
      {">", "foo.bar", true},
      {"foo.>", "foo.bar", true},
      {"bar.>", "foo.bar", false},
      {"stats.>", "stats.test.22", true},
      {"stats.*.*", "stats.test.22", true},
      {"foo", "foo.bar", false},
      {"stats.test.foos", "stats.test.foos", true},
      {"stats.test.foo", "stats.test.foos", false},
      {"stats.test.*", "stats.test", false},
      {"stats.*", "stats.test.foos", false},
      {"stats.*.*.foos", "stats.test.foos", false},
      // Wildcard characters inside tokens are plain characters.
      {"*bar", "*bar", true},
      {"foo*", "foo*", true},
      {"foo*bar", "foo*bar", true},
      {"foo.***.bar", "foo.***.bar", true},
      {">bar", ">bar", true},
      {"foo>", "foo>", true},
      {"foo>bar", "foo>bar", true},
      {"foo.>>>.bar", "foo.>>>.bar", true},
      {"foo*", "foox", false},
      {"foo.>>", "foo.bar", false},
  };
  for (const Match& m : cases) {
    EXPECT_EQ(subject_matches(m.pattern, m.subject), m.matches) << m.pattern << " vs " << m.subject;
  }
}

TEST(SubjectMatches, FullWildcardNeedsAtLeastOneToken) {
  EXPECT_FALSE(subject_matches("foo.>", "foo"));
  EXPECT_TRUE(subject_matches("foo.>", "foo.a.b.c"));
  EXPECT_TRUE(subject_matches("*.>", "a.b"));
  EXPECT_FALSE(subject_matches("*.>", "a"));
}

TEST(SubjectMatches, PartialWildcardMatchesExactlyOneToken) {
  EXPECT_TRUE(subject_matches("a.*.c", "a.b.c"));
  EXPECT_FALSE(subject_matches("a.*.c", "a.b.x.c"));
  EXPECT_FALSE(subject_matches("a.*", "a"));
  EXPECT_TRUE(subject_matches("*.*", "a.b"));
  EXPECT_FALSE(subject_matches("*.*", "a.b.c"));
}

TEST(SubjectQueue, QueueNamesAreNonEmptyWithoutWhitespace) {
  EXPECT_TRUE(valid_queue_name("workers"));
  EXPECT_TRUE(valid_queue_name("a.b-c_d"));
  EXPECT_FALSE(valid_queue_name(""));
  EXPECT_FALSE(valid_queue_name("a b"));
  EXPECT_FALSE(valid_queue_name("a\t"));
  EXPECT_FALSE(valid_queue_name("\r\n"));
}

TEST(SubjectTokens, TokensAreWalkedInOrderIncludingEmptyOnes) {
  auto tokens = [](std::string_view s) {
    std::vector<std::string> out;
    Tokens t(s);
    std::string_view tok;
    while (t.next(tok)) out.emplace_back(tok);
    return out;
  };
  EXPECT_EQ(tokens("a.b.c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(tokens("a"), (std::vector<std::string>{"a"}));
  EXPECT_EQ(tokens("a..b."), (std::vector<std::string>{"a", "", "b", ""}));
}

}  // namespace
}  // namespace pylon::proto
