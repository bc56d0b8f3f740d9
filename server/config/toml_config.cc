// The TOML side of the settings: reading a flat config file, writing the effective
// configuration back in the same form. toml++ is used header-only, in this file alone.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include <toml++/toml.h>

#include "config/settings.h"

namespace brokerd::server {

namespace {

const char* type_name(toml::node_type type) {
  switch (type) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::none: break;
  }
  return "nothing";
}

std::string where(const std::string& source_name, const toml::source_region& region) {
  std::string out = "config file " + source_name;
  if (region.begin.line > 0) out += " line " + std::to_string(region.begin.line);
  return out;
}

// A TOML basic string: "..." with the escapes TOML defines.
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char escape[8];
          std::snprintf(escape, sizeof escape, "\\u%04X", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += escape;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace

Status apply_toml(Settings& settings, std::string_view toml_text, const std::string& source_name) {
  toml::table document;
  try {
    document = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& error) {
    return Status::InvalidArgument(where(source_name, error.source()) + ": not valid TOML: " +
                                   std::string(error.description()));
  }
  // toml::table is ordered by key; report problems in the order of the file instead.
  std::vector<std::pair<std::string, const toml::node*>> entries;
  for (const auto& [key, node] : document) entries.emplace_back(std::string(key.str()), &node);
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return a.second->source().begin.line < b.second->source().begin.line;
  });
  for (const auto& [key, node] : entries) {
    const std::string prefix = where(source_name, node->source());
    const SettingDecl* decl = find_setting(key);
    if (decl == nullptr) {
      return Status::InvalidArgument(prefix + ": unknown setting '" + key +
                                     "' (the file is one flat table whose keys are the setting names; "
                                     "see brokerd --help)");
    }
    const bool integer = decl->is_integer();
    if (integer ? !node->is_integer() : !node->is_string()) {
      return Status::InvalidArgument(prefix + ": " + decl->name + " must be " +
                                     (integer ? "an integer" : "a string") + ", not " + type_name(node->type()));
    }
    const std::string text =
        integer ? std::to_string(node->as_integer()->get()) : node->as_string()->get();
    if (Status s = set_setting(settings, *decl, text, prefix); !s.ok()) return s;
  }
  return Status::Ok();
}

Status apply_toml_file(Settings& settings, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("config file " + path + ": cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::InvalidArgument("config file " + path + ": cannot read: " + std::strerror(errno));
  return apply_toml(settings, text.str(), path);
}

std::string settings_to_toml(const Settings& settings) {
  std::string out =
      "# brokerd effective configuration (flags > config file > BROKERD_* environment > defaults).\n"
      "# Load it with: brokerd --config FILE\n";
  for (const SettingDecl& decl : setting_table()) {
    out += decl.name;
    out += " = ";
    if (auto* member = std::get_if<std::string Settings::*>(&decl.field)) {
      out += quoted(settings.*(*member));
    } else {
      out += std::to_string(settings.*std::get<int64_t Settings::*>(decl.field));
    }
    out += '\n';
  }
  return out;
}

}  // namespace brokerd::server
