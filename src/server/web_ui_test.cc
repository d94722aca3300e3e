#include "server/web_ui.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fstream>

#include "common/test_util.h"
#include "ingest/content_decoding.h"

namespace lode {
namespace {

namespace asio = boost::asio;

const std::string kPage = "<!doctype html><title>t</title>" + std::string(4000, ' ') + "x";
const WebAsset kAssets[] = {{"index.html", kPage}, {"app.js", "console.log(1)"}};

HttpResponse Get(const WebUi& ui, std::string_view name,
                 std::vector<std::pair<http::field, std::string>> headers = {},
                 http::verb verb = http::verb::get) {
  HttpRequest req(verb, "/" + std::string(name), 11);
  for (auto& [f, v] : headers) req.set(f, v);
  asio::io_context io;
  auto done = asio::co_spawn(io, ui.Serve(req, name), asio::use_future);
  io.run();
  return done.get();
}

TEST(WebUiTest, ServesWithTypeEtagAndRevalidation) {
  WebUi ui(nullptr, kAssets);
  HttpResponse page = Get(ui, "index.html");
  EXPECT_EQ(page.result(), http::status::ok);
  EXPECT_EQ(page.body(), kPage);
  EXPECT_EQ(page[http::field::content_type], "text/html; charset=utf-8");
  EXPECT_EQ(page[http::field::cache_control], "no-cache");
  EXPECT_FALSE(page["Content-Security-Policy"].empty());
  const std::string etag(page[http::field::etag]);
  ASSERT_FALSE(etag.empty());

  HttpResponse again = Get(ui, "index.html", {{http::field::if_none_match, etag}});
  EXPECT_EQ(again.result(), http::status::not_modified);
  EXPECT_TRUE(again.body().empty());

  HttpResponse js = Get(ui, "app.js");
  EXPECT_EQ(js[http::field::content_type], "text/javascript; charset=utf-8");
  EXPECT_NE(js[http::field::etag], etag);
  EXPECT_EQ(Get(ui, "app.css").result(), http::status::not_found);
}

TEST(WebUiTest, GzipWhenAcceptedAndWorthIt) {
  WebUi ui(nullptr, kAssets);
  HttpResponse gz = Get(ui, "index.html", {{http::field::accept_encoding, "gzip, deflate, br"}});
  ASSERT_EQ(gz[http::field::content_encoding], "gzip");
  EXPECT_LT(gz.body().size(), kPage.size() / 4);
  std::string plain;
  ASSERT_TRUE(DecodeContent("gzip", gz.body(), 1 << 20, &plain).ok());
  EXPECT_EQ(plain, kPage);
  // Too small to gain: sent as is.
  HttpResponse js = Get(ui, "app.js", {{http::field::accept_encoding, "gzip"}});
  EXPECT_TRUE(js[http::field::content_encoding].empty());
  EXPECT_EQ(js.body(), "console.log(1)");

  // Refused with q=0: plain.
  HttpResponse no = Get(ui, "index.html", {{http::field::accept_encoding, "gzip;q=0, br"}});
  EXPECT_TRUE(no[http::field::content_encoding].empty());
  EXPECT_EQ(no.body(), kPage);
  EXPECT_EQ(Get(ui, "index.html",
                {{http::field::accept_encoding, "deflate, *"}})[http::field::content_encoding],
            "gzip");

  // The two encodings are two representations: each its own tag, each revalidates alone.
  const std::string gz_tag(gz[http::field::etag]);
  const std::string plain_tag(no[http::field::etag]);
  EXPECT_NE(gz_tag, plain_tag);
  EXPECT_EQ(Get(ui, "index.html",
                {{http::field::accept_encoding, "gzip"}, {http::field::if_none_match, gz_tag}})
                .result(),
            http::status::not_modified);
  EXPECT_EQ(Get(ui, "index.html", {{http::field::if_none_match, gz_tag}}).result(),
            http::status::ok);
  // A proxy may weaken the tag or send a list.
  EXPECT_EQ(Get(ui, "index.html", {{http::field::if_none_match, "\"x\", W/" + plain_tag}}).result(),
            http::status::not_modified);
}

TEST(WebUiTest, HeadHasLengthAndNoBody) {
  WebUi ui(nullptr, kAssets);
  HttpResponse head = Get(ui, "index.html", {}, http::verb::head);
  EXPECT_EQ(head.result(), http::status::ok);
  EXPECT_TRUE(head.body().empty());
  EXPECT_EQ(head[http::field::content_length], std::to_string(kPage.size()));
  HttpResponse missing = Get(ui, "app.css", {}, http::verb::head);
  EXPECT_EQ(missing.result(), http::status::not_found);
  EXPECT_TRUE(missing.body().empty());
}

TEST(WebUiTest, DirectoryIsReadAtEachRequest) {
  TempDir dir;
  auto write = [&](std::string_view text) { std::ofstream(dir.path() + "/app.js") << text; };
  write("one");
  WebUi ui(nullptr, kAssets, dir.path());
  EXPECT_EQ(Get(ui, "app.js").body(), "one");
  write("two");
  EXPECT_EQ(Get(ui, "app.js").body(), "two");
  HttpResponse missing = Get(ui, "index.html");
  EXPECT_EQ(missing.result(), http::status::not_found);
  EXPECT_NE(missing.body().find(dir.path()), std::string::npos);
}

TEST(WebUiTest, BrowsersGetThePageOthersTheApi) {
  HttpRequest req(http::verb::get, "/", 11);
  EXPECT_FALSE(WebUi::WantsPage(req));
  req.set(http::field::accept, "*/*");
  EXPECT_FALSE(WebUi::WantsPage(req));
  req.set(http::field::accept, "application/vnd.elasticsearch+json; compatible-with=8");
  EXPECT_FALSE(WebUi::WantsPage(req));
  req.set(http::field::accept, "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
  EXPECT_TRUE(WebUi::WantsPage(req));
}

TEST(WebUiTest, TheBuiltBundleIsEmbedded) {
  std::map<std::string, size_t> sizes;
  for (const WebAsset& a : EmbeddedWebAssets()) sizes[std::string(a.name)] = a.data.size();
  ASSERT_EQ(sizes.size(), 3u);
  EXPECT_GT(sizes["index.html"], 100u);
  EXPECT_TRUE(sizes.contains("app.js"));
  EXPECT_TRUE(sizes.contains("app.css"));
#if LODE_WEB_UI
  // Built with the UI: the bundle, not the placeholder page.
  EXPECT_GT(sizes["app.js"], 10000u);
  EXPECT_GT(sizes["app.css"], 1000u);
#else
  EXPECT_EQ(sizes["app.js"], 0u);
#endif
}

}  // namespace
}  // namespace lode
