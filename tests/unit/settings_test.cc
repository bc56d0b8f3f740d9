// brokerd's settings: one declaration read from flags, a TOML file and BROKERD_*
// environment variables (in that order of precedence), errors that name the setting and the
// source, --print-config round trips, and docs/configuration.md generated from the table.
#include "config/settings.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include <CLI/CLI.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace brokerd::server {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

EnvLookup env_of(std::map<std::string, std::string> variables) {
  return [variables = std::move(variables)](const std::string& name) -> std::optional<std::string> {
    auto it = variables.find(name);
    if (it == variables.end()) return std::nullopt;
    return it->second;
  };
}

void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// Parses `args` (without the program name) the way brokerd does and resolves the settings.
struct Resolved {
  Status status;
  Settings settings;
};
Resolved resolve(std::vector<std::string> args, const EnvLookup& env) {
  CLI::App app;
  SettingsCommandLine command_line(app);
  std::vector<const char*> argv = {"brokerd"};
  for (const auto& arg : args) argv.push_back(arg.c_str());
  Resolved out;
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& error) {
    out.status = Status::InvalidArgument(std::string("command line: ") + error.what());
    return out;
  }
  out.status = command_line.resolve(env, out.settings);
  return out;
}

TEST(Settings, DefaultsAreValidAndNamesFollowTheRule) {
  EXPECT_TRUE(validate_settings(Settings{}).ok());
  const SettingDecl* data_dir = find_setting("data_dir");
  ASSERT_NE(data_dir, nullptr);
  EXPECT_EQ(data_dir->flag(), "--data-dir");
  EXPECT_EQ(data_dir->env_var(), "BROKERD_DATA_DIR");
  EXPECT_EQ(find_setting("data-dir"), nullptr);
  for (const char* name : {"log_format", "log_max_size_mb", "log_max_files", "shutdown_timeout_s"}) {
    EXPECT_NE(find_setting(name), nullptr) << name;
  }
}

TEST(Settings, EachRowHasItsOwnFieldAndName) {
  // Changing one setting through the table changes exactly one line of the description: no
  // two rows share a field (they would fight) or a name.
  const std::string defaults = describe_settings(Settings{});
  std::vector<std::string> names;
  for (const SettingDecl& decl : setting_table()) {
    EXPECT_EQ(std::count(names.begin(), names.end(), decl.name), 0) << decl.name;
    names.emplace_back(decl.name);
    Settings changed;
    std::string value;
    if (decl.is_integer()) {
      value = std::to_string(decl.max);
    } else if (decl.choices.empty()) {
      value = "changed";
    } else {
      const std::string current = Settings{}.*std::get<std::string Settings::*>(decl.field);
      value = decl.choices.back() == current ? decl.choices.front() : decl.choices.back();
    }
    ASSERT_TRUE(set_setting(changed, decl, value, "test").ok()) << decl.name;
    std::istringstream a(defaults), b(describe_settings(changed));
    std::string line_a, line_b;
    int differing = 0;
    while (std::getline(a, line_a) && std::getline(b, line_b)) differing += line_a != line_b;
    EXPECT_EQ(differing, 1) << decl.name;
  }
}

TEST(Settings, EnvironmentVariablesAreParsedAndChecked) {
  Settings settings;
  ASSERT_TRUE(apply_environment(settings, env_of({{"BROKERD_DATA_DIR", "/var/lib/brokerd"},
                                                  {"BROKERD_LEASE_MS", "5000"},
                                                  {"BROKERD_SYNC", "interval"},
                                                  {"BROKERD_SERVER", "10.0.0.1:7411"},  // brokerctl's, not ours
                                                  {"BROKERD_NOT_A_SETTING", "x"},
                                                  {"LEASE_MS", "7"}}))
                  .ok());
  EXPECT_EQ(settings.data_dir, "/var/lib/brokerd");
  EXPECT_EQ(settings.lease_ms, 5000);
  EXPECT_EQ(settings.sync, "interval");
  EXPECT_EQ(settings.listen, Settings{}.listen);

  for (const char* bad : {"abc", "", "12abc", " 5000", "5000 ", "5e3", "0x10", "99999999999999999999"}) {
    Settings ignored;
    Status s = apply_environment(ignored, env_of({{"BROKERD_LEASE_MS", bad}}));
    ASSERT_FALSE(s.ok()) << "'" << bad << "'";
    EXPECT_THAT(s.message(), AllOf(HasSubstr("environment variable BROKERD_LEASE_MS"), HasSubstr("lease_ms"),
                                   HasSubstr("integer")));
  }
  Settings ignored;
  Status low = apply_environment(ignored, env_of({{"BROKERD_LEASE_MS", "999"}}));
  EXPECT_THAT(low.message(), AllOf(HasSubstr("BROKERD_LEASE_MS"), HasSubstr("lease_ms = 999 is outside 1000..")));
  Status choice = apply_environment(ignored, env_of({{"BROKERD_SYNC", "sometimes"}}));
  EXPECT_THAT(choice.message(), AllOf(HasSubstr("BROKERD_SYNC"), HasSubstr("sync = 'sometimes'"),
                                      HasSubstr("always, interval, none")));
}

TEST(Settings, TomlSetsSettingsByName) {
  Settings settings;
  ASSERT_TRUE(apply_toml(settings,
                         "# comment\n"
                         "data_dir = \"/var/lib/brokerd\"\n"
                         "lease_ms = 60_000\n"
                         "log_format = 'json'\n",
                         "brokerd.toml")
                  .ok());
  EXPECT_EQ(settings.data_dir, "/var/lib/brokerd");
  EXPECT_EQ(settings.lease_ms, 60000);
  EXPECT_EQ(settings.log_format, "json");
  EXPECT_EQ(settings.sync, "always");
}

TEST(Settings, BadTomlNamesTheSettingTheFileAndTheLine) {
  struct Case {
    std::string toml;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases = {
      {"lease_ms = 5000\nleese_ms = 5000\n", {"/etc/b.toml line 2", "unknown setting 'leese_ms'"}},
      {"lease_ms = \"5000\"\n", {"/etc/b.toml line 1", "lease_ms must be an integer, not a string"}},
      {"lease_ms = 5000.0\n", {"lease_ms must be an integer, not a floating-point number"}},
      {"data_dir = 5\n", {"/etc/b.toml line 1", "data_dir must be a string, not an integer"}},
      {"io_threads = true\n", {"io_threads must be an integer, not a boolean"}},
      {"listen = [\"a\"]\n", {"listen must be a string, not an array"}},
      {"\n\nlease_ms = 999\n", {"/etc/b.toml line 3", "lease_ms = 999 is outside 1000..3600000"}},
      {"sync = \"sometimes\"\n", {"/etc/b.toml line 1", "sync = 'sometimes' is not one of always, interval, none"}},
      {"[server]\nlisten = \"x\"\n", {"/etc/b.toml", "unknown setting 'server'"}},
      {"lease_ms = \n", {"/etc/b.toml line 1", "not valid TOML"}},
  };
  for (const Case& c : cases) {
    Settings settings;
    Status s = apply_toml(settings, c.toml, "/etc/b.toml");
    ASSERT_FALSE(s.ok()) << c.toml;
    for (const std::string& part : c.expected) EXPECT_THAT(s.message(), HasSubstr(part)) << c.toml;
  }
}

TEST(Settings, MissingConfigFileIsAnError) {
  brokerd::testing::TempDir dir;
  Settings settings;
  Status s = apply_toml_file(settings, dir.file("absent.toml"));
  EXPECT_THAT(s.message(), AllOf(HasSubstr(dir.file("absent.toml")), HasSubstr("cannot open")));
}

TEST(Settings, FlagOverridesFileOverridesEnvironmentOverridesDefault) {
  brokerd::testing::TempDir dir;
  const std::string config = dir.file("brokerd.toml");
  // lease_ms is given everywhere, result_ttl_s in env and file, queue_window in env only.
  write_file(config, "lease_ms = 3000\nresult_ttl_s = 300\n");
  const EnvLookup env = env_of({{"BROKERD_LEASE_MS", "2000"},
                                {"BROKERD_RESULT_TTL_S", "200"},
                                {"BROKERD_QUEUE_WINDOW", "128"}});

  Resolved all = resolve({"--config", config, "--lease-ms", "4000"}, env);
  ASSERT_TRUE(all.status.ok()) << all.status.message();
  EXPECT_EQ(all.settings.lease_ms, 4000);      // flag
  EXPECT_EQ(all.settings.result_ttl_s, 300);   // file
  EXPECT_EQ(all.settings.queue_window, 128);   // environment
  EXPECT_EQ(all.settings.io_threads, 2);       // default

  Resolved no_flag = resolve({"--config", config}, env);
  EXPECT_EQ(no_flag.settings.lease_ms, 3000);
  Resolved no_file = resolve({}, env);
  EXPECT_EQ(no_file.settings.lease_ms, 2000);
  EXPECT_EQ(no_file.settings.result_ttl_s, 200);
  Resolved nothing = resolve({}, env_of({}));
  EXPECT_EQ(nothing.settings.lease_ms, 30000);

  // A flag can set a text setting back to empty over the file.
  write_file(config, "log_file = \"/var/log/brokerd.log\"\n");
  EXPECT_EQ(resolve({"--config", config}, env_of({})).settings.log_file, "/var/log/brokerd.log");
  EXPECT_EQ(resolve({"--config", config, "--log-file", ""}, env_of({})).settings.log_file, "");
}

TEST(Settings, BadFlagNamesTheFlagAndTheSetting) {
  Resolved bad = resolve({"--lease-ms", "soon"}, env_of({}));
  EXPECT_THAT(bad.status.message(),
              AllOf(HasSubstr("flag --lease-ms"), HasSubstr("lease_ms must be an integer, not 'soon'")));
  Resolved low = resolve({"--io-threads", "0"}, env_of({}));
  EXPECT_THAT(low.status.message(), AllOf(HasSubstr("flag --io-threads"), HasSubstr("io_threads = 0 is outside 1..64")));
  Resolved choice = resolve({"--log-format", "xml"}, env_of({}));
  EXPECT_THAT(choice.status.message(), AllOf(HasSubstr("flag --log-format"), HasSubstr("text, json")));
  // A bad value is an error even where a higher source overrides it.
  Resolved shadowed = resolve({"--lease-ms", "5000"}, env_of({{"BROKERD_LEASE_MS", "x"}}));
  EXPECT_THAT(shadowed.status.message(), HasSubstr("BROKERD_LEASE_MS"));
  Resolved empty_dir = resolve({"--data-dir", ""}, env_of({}));
  EXPECT_THAT(empty_dir.status.message(), HasSubstr("data_dir"));
}

TEST(Settings, PrintConfigRoundTrips) {
  Settings original;
  original.data_dir = "/srv/brokerd \"quoted\" \\ back\tslash é";
  original.port_file = "line\nbreak\r\x01\x7f end";
  original.log_file = "";
  original.sync = "none";
  original.lease_ms = 1234567;
  original.log_max_files = 0;
  const std::string text = settings_to_toml(original);
  EXPECT_THAT(text, HasSubstr("lease_ms = 1234567\n"));
  EXPECT_THAT(text, HasSubstr("sync = \"none\"\n"));

  Settings loaded;
  ASSERT_TRUE(apply_toml(loaded, text, "printed").ok()) << text;
  EXPECT_EQ(describe_settings(loaded), describe_settings(original));
  EXPECT_EQ(settings_to_toml(loaded), text);
}

TEST(Settings, ReferenceListsEverySetting) {
  const std::string reference = configuration_reference_markdown();
  for (const SettingDecl& decl : setting_table()) {
    EXPECT_THAT(reference, AllOf(HasSubstr("| `" + std::string(decl.name) + "` | `" + decl.flag() + "` | `" +
                                           decl.env_var() + "` |"),
                                 HasSubstr(decl.help)));
  }
  EXPECT_THAT(reference, HasSubstr("| `lease_ms` | `--lease-ms` | `BROKERD_LEASE_MS` | integer | `30000` | "
                                   "1000 .. 3600000 |"));
  EXPECT_THAT(reference, HasSubstr("| `sync` | `--sync` | `BROKERD_SYNC` | string | `\"always\"` | `always`, "
                                   "`interval`, `none` |"));
}

// docs/configuration.md is generated; this fails when it was edited by hand or the table
// changed without regenerating it.
TEST(Settings, DocsConfigurationMdIsTheGeneratedReference) {
  const std::string path = std::string(BROKERD_SOURCE_DIR) + "/docs/configuration.md";
  std::ifstream in(path);
  ASSERT_TRUE(in) << "missing " << path;
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_TRUE(text.str() == configuration_reference_markdown())
      << path << " is out of date; regenerate it with:\n"
      << "  build/server/brokerd --print-config-reference > docs/configuration.md";
}

}  // namespace
}  // namespace brokerd::server
