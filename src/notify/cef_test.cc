#include "notify/cef.h"

#include <gtest/gtest.h>

namespace bg::notify {
namespace {

struct EscapeCase {
  const char* in;
  const char* header;
  const char* value;
};

TEST(Cef, EscapesHeaderAndExtensionValuesByTheirOwnRules) {
  const EscapeCase kCases[] = {
      {"plain", "plain", "plain"},
      {"a|b", "a\\|b", "a|b"},
      {"a\\b", "a\\\\b", "a\\\\b"},
      {"a=b", "a=b", "a\\=b"},
      {"line1\nline2", "line1 line2", "line1\\nline2"},
      {"cr\rhere", "cr here", "cr\\rhere"},
      {"|=\\\n", "\\|=\\\\ ", "|\\=\\\\\\n"},
      {"", "", ""},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(CefEscapeHeader(c.in), c.header) << c.in;
    EXPECT_EQ(CefEscapeValue(c.in), c.value) << c.in;
  }
}

TEST(Cef, SeverityRanksAlertsAndFailuresAboveRoutineEvents) {
  EXPECT_EQ(CefSeverity("alert.raised"), 8);
  EXPECT_EQ(CefSeverity("login.failed"), 6);
  EXPECT_EQ(CefSeverity("policy.rejected"), 6);
  EXPECT_EQ(CefSeverity("request.auto_approved"), 5);
  EXPECT_EQ(CefSeverity("user.added"), 5);
  EXPECT_EQ(CefSeverity("request.approved"), 4);
  EXPECT_EQ(CefSeverity("request.created"), 3);
  EXPECT_EQ(CefSeverity("server.started"), 3);
}

TEST(Cef, FormatsOneEventAsAFullLine) {
  audit::LeafEvent e;
  e.time = FromUnixSeconds(1795000000);
  e.type = "request.created";
  e.actor = "alice";
  e.request = RequestId("req_1");
  e.details = {{"reason", "db=down\nnow"},
               {"ticket", "INC|1"},
               {"source_address", "127.0.0.1"},
               {"duration", "3600"}};
  EXPECT_EQ(FormatCef(7, e),
            "CEF:0|breakglass|breakglass|0.1.0|request.created|request.created|3|"
            "rt=1795000000000 suser=alice cn1=7 cn1Label=auditIndex cs1=req_1 cs1Label=request "
            "cs2=db\\=down\\nnow cs2Label=reason src=127.0.0.1 cs3=INC|1 cs3Label=ticket "
            "msg=duration\\=3600");
}

TEST(Cef, HeaderPipesInTheTypeAreEscapedAndEventsWithoutRequestHaveNoCs1) {
  audit::LeafEvent e;
  e.time = FromUnixSeconds(0);
  e.type = "x|y";
  e.actor = "a=b";
  EXPECT_EQ(FormatCef(0, e),
            "CEF:0|breakglass|breakglass|0.1.0|x\\|y|x\\|y|3|rt=0 suser=a\\=b cn1=0 "
            "cn1Label=auditIndex");
}

}  // namespace
}  // namespace bg::notify
