#include "gen/fleet.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "common/json_writer.h"

namespace lode {

namespace {

// ---------------------------------------------------------------------------------------------
// Origins, level spellings, time zones.

enum Origin : uint8_t { kOriginK8s, kOriginDocker, kOriginCloudWatch, kOriginHttp };
constexpr std::array<std::string_view, 4> kSourceNames = {"k8s", "docker", "cloudwatch", "http"};

// Levels the generator emits, as indexes into the spelling tables below.
constexpr size_t LevelSlot(Level level) {
  return static_cast<size_t>(level) - 2;
}

constexpr std::array<std::string_view, 5> kLowerLevels = {"debug", "info", "warn", "error",
                                                          "fatal"};
constexpr std::array<std::string_view, 5> kUpperLevels = {"DEBUG", "INFO", "WARN", "ERROR",
                                                          "FATAL"};
constexpr std::array<std::string_view, 5> kDockerPrefixes = {"DEBUG ", "INFO ", "WARN ", "ERROR ",
                                                             "FATAL "};

// http level styles; the last one is written as JSON numbers.
constexpr int kLevelStyleCount = 7;
constexpr int kPinoStyle = 6;
constexpr std::array<std::array<std::string_view, 5>, kLevelStyleCount> kLevelStyles = {{
    {"debug", "info", "warn", "error", "fatal"},
    {"DEBUG", "INFO", "WARNING", "ERROR", "FATAL"},
    {"Debug", "Information", "Warning", "Error", "Critical"},
    {"D", "I", "W", "E", "F"},
    {"DBG", "INF", "WRN", "ERR", "FTL"},
    {"debug", "info", "warning", "err", "crit"},
    {"20", "30", "40", "50", "60"},
}};

constexpr std::array<std::string_view, 3> kLevelKeys = {"level", "severity", "lvl"};
constexpr std::array<std::string_view, 2> kMsgKeys = {"message", "msg"};
constexpr std::array<std::string_view, 3> kTsKeys = {"timestamp", "ts", "@timestamp"};

enum TsShape : uint8_t {
  kTsJsDatePrefixed,  // "Date Thu Nov 14 2024 17:01:04 GMT+0200 (Israel Standard Time)"
  kTsJsDate,          // "Thu Nov 14 2024 17:01:04 GMT+0200 (Israel Standard Time)"
  kTsRfc3339Offset,   // "2024-11-14T17:01:04.123+02:00"
  kTsEpochSeconds,    // 1731596464.123
  kTsEpochMsString,   // "1731596464123"
  kTsRfc2822,         // "Thu, 14 Nov 2024 17:01:04 +0200"
  kTsShapeCount,
};

struct Zone {
  int offset_minutes;
  std::string_view name;  // as JavaScript's Date.toString() spells it
};
constexpr Zone kIsrael = {120, "Israel Standard Time"};
constexpr std::array<Zone, 20> kZones = {{
    kIsrael,
    {180, "Israel Daylight Time"},
    {0, "Coordinated Universal Time"},
    {0, "Greenwich Mean Time"},
    {60, "British Summer Time"},
    {60, "Central European Standard Time"},
    {120, "Central European Summer Time"},
    {-300, "Eastern Standard Time"},
    {-240, "Eastern Daylight Time"},
    {-480, "Pacific Standard Time"},
    {-420, "Pacific Daylight Time"},
    {330, "India Standard Time"},
    {345, "Nepal Time"},
    {540, "Japan Standard Time"},
    {480, "China Standard Time"},
    {600, "Australian Eastern Standard Time"},
    {780, "New Zealand Daylight Time"},
    {-210, "Newfoundland Standard Time"},
    {-180, "Brasilia Standard Time"},
    {-600, "Hawaii-Aleutian Standard Time"},
}};

constexpr std::array<std::string_view, 7> kWeekdays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// ---------------------------------------------------------------------------------------------
// Message templates. A template is text with {name} placeholders; TemplateText shows each as <*>.

enum Var : uint8_t {
  kLiteral,
  kVarIp,   // client address, mostly IPv4, some IPv6
  kVarIp4,  // private IPv4
  kVarMethod,
  kVarPath,
  kVarStatus,  // the line's HTTP status (depends on the level)
  kVarBytes,
  kVarUa,
  kVarDur,  // the line's latency as "123ms" or "1.5s"
  kVarMs,   // the line's latency in ms
  kVarUuid,
  kVarNum,
  kVarSmall,
  kVarDep,
  kVarPort,
  kVarErr,
  kVarMime,
  kVarTable,
  kVarSqlId,
  kVarKey,
  kVarSize,
  kVarUid,
  kVarAuthMethod,
  kVarEmail,
  kVarHex8,
  kVarHex16,
  kVarOrderId,
  kVarAmount,
  kVarCurrency,
  kVarCard,
  kVarLast4,
  kVarDecline,
  kVarTopic,
  kVarPartition,
  kVarOffset,
  kVarVersion,
  kVarPid,
  kVarService,
  kVarFlag,
  kVarBool,
  kVarPct,
  kVarLine,
  kVarMb,
  kVarGoroutine,
  kVarField,
  kVarQuery,
  kVarIndex,
  kVarMailTemplate,
  kVarCount,
};

constexpr std::array<std::string_view, kVarCount> kVarNames = {
    "",      "ip",        "ip4",     "method",    "path",     "status", "bytes",      "ua",
    "dur",   "ms",        "uuid",    "num",       "small",    "dep",    "port",       "err",
    "mime",  "table",     "sqlid",   "key",       "size",     "uid",    "authmethod", "email",
    "hex8",  "hex16",     "orderid", "amount",    "currency", "card",   "last4",      "decline",
    "topic", "partition", "offset",  "version",   "pid",      "svc",    "flag",       "bool",
    "pct",   "line",      "mb",      "goroutine", "field",    "query",  "index",      "mailtpl",
};

// Template categories; a service draws from the categories of its profile.
enum Category : uint32_t {
  kCatAccess = 1u << 0,  // access-log lines; a service uses exactly one of these
  kCatWeb = 1u << 1,
  kCatDb = 1u << 2,
  kCatCache = 1u << 3,
  kCatAuth = 1u << 4,
  kCatPay = 1u << 5,
  kCatQueue = 1u << 6,
  kCatK8s = 1u << 7,  // probes and lifecycle; every Kubernetes service
  kCatJvm = 1u << 8,
  kCatGo = 1u << 9,
  kCatPy = 1u << 10,
  kCatSearch = 1u << 11,
  kCatNotify = 1u << 12,
  kCatCommon = 1u << 13,  // every service; has every level
  kCatNeedle = 1u << 14,  // drawn separately, never from a service's choices
};

constexpr uint8_t kD = 1u << 0;
constexpr uint8_t kI = 1u << 1;
constexpr uint8_t kW = 1u << 2;
constexpr uint8_t kE = 1u << 3;
constexpr uint8_t kF = 1u << 4;

struct TemplateSpec {
  uint32_t category;
  uint8_t levels;  // the levels it is written at (kD | kI | ...)
  uint8_t weight;  // relative frequency within its service and level
  std::string_view text;
};

// The access-log templates come first, in this order, so that an id < kAccessTemplateCount is an
// access-log line.
constexpr int kAccessTemplateCount = 4;
constexpr TemplateSpec kTemplateSpecs[] = {
    // Access logs.
    {kCatAccess, kI | kW | kE, 14,
     R"({ip} - - "{method} {path} HTTP/1.1" {status} {bytes} "-" "{ua}")"},
    {kCatAccess, kI | kW | kE, 14, "{method} {path} {status} {dur}"},
    {kCatAccess, kI | kW | kE, 14,
     "method={method} path={path} status={status} latency_ms={ms} bytes={bytes} "
     "request_id={uuid} remote_addr={ip}"},
    {kCatAccess, kI | kW | kE, 14,
     "HTTP {method} {path} responded {status} in {ms}ms request_id={uuid}"},
    // Web.
    {kCatWeb, kW, 3,
     "slow request: {method} {path} took {dur} (threshold 500ms) request_id={uuid}"},
    {kCatWeb, kW, 2, "rate limit exceeded for client {ip}: {num} requests in the last 60s"},
    {kCatWeb, kE, 3, "upstream request failed: {method} http://{dep}:{port}{path}: {err}"},
    {kCatWeb, kD, 3, R"(request headers: accept={mime} user-agent="{ua}" x-request-id={uuid})"},
    // Databases.
    {kCatDb, kD, 4,
     "query executed in {dur}: SELECT id, status, total FROM {table} WHERE id = {sqlid}"},
    {kCatDb, kI, 2, "connection pool stats: active={small} idle={small} waiting={small} max=50"},
    {kCatDb, kW, 3, "slow query ({dur}): UPDATE {table} SET updated_at = now() WHERE id = {sqlid}"},
    {kCatDb, kE, 2, "failed to acquire database connection after {dur}: pool exhausted (max=50)"},
    {kCatDb, kE, 2, R"(pq: duplicate key value violates unique constraint "{table}_pkey")"},
    {kCatDb, kW, 1, "deadlock detected on table {table}, retrying transaction (attempt {small}/5)"},
    // Caches.
    {kCatCache, kD, 4, "cache hit key={key} ttl={num}s"},
    {kCatCache, kD, 3, "cache miss key={key}, loading from origin"},
    {kCatCache, kW, 2, "redis: connection pool timeout after {dur} (addr={ip4}:6379)"},
    {kCatCache, kI, 1, "evicted {num} keys from local cache (size={size})"},
    // Authentication.
    {kCatAuth, kI, 4, "user {uid} logged in from {ip} via {authmethod}"},
    {kCatAuth, kW, 3,
     R"(failed login attempt for "{email}" from {ip}: invalid password ({small} of 5))"},
    {kCatAuth, kI, 2, "issued access token for user {uid} (jti={hex16}, expires_in=3600)"},
    {kCatAuth, kW, 2, "JWT validation failed: signature mismatch for kid={hex8}"},
    {kCatAuth, kE, 1, "account {uid} locked after {small} failed attempts from {ip}"},
    // Payments.
    {kCatPay, kI, 4,
     "payment authorized order_id={orderid} amount={amount} currency={currency} card={card} "
     "last4={last4}"},
    {kCatPay, kW, 3,
     "payment declined order_id={orderid} reason={decline} amount={amount} {currency}"},
    {kCatPay, kE, 2,
     "payment provider timeout after {dur} for order {orderid}, will retry (attempt {small})"},
    {kCatPay, kI, 2, "refund issued refund_id=re_{hex16} order_id={orderid} amount={amount}"},
    // Queue consumers.
    {kCatQueue, kI, 3,
     "consumed message from topic {topic} partition={partition} offset={offset} in {dur}"},
    {kCatQueue, kW, 2, "consumer lag on {topic}/{partition} is {num} messages"},
    {kCatQueue, kE, 2,
     "failed to process message {uuid} from {topic}: {err}; sending to dead-letter queue"},
    {kCatQueue, kD, 2, "committed offset {offset} for {topic}[{partition}]"},
    // Kubernetes probes and lifecycle.
    {kCatK8s, kD, 3, "GET /healthz 200 {dur} kube-probe/1.29"},
    {kCatK8s, kW, 1,
     R"(readiness probe failed: Get "http://{ip4}:{port}/ready": context deadline exceeded)"},
    {kCatK8s, kI, 1, "received SIGTERM, shutting down gracefully (draining {small} connections)"},
    {kCatK8s, kI, 1, "server listening on 0.0.0.0:{port} (version {version}, pid {pid})"},
    // Every service.
    {kCatCommon, kI, 1, "config reloaded from /etc/{svc}/config.yaml (checksum {hex8})"},
    {kCatCommon, kD, 2, R"(feature flag "{flag}" evaluated to {bool} for user {uid})"},
    {kCatCommon, kW, 1, "memory usage at {pct}% of limit ({size} of 2GiB)"},
    {kCatCommon, kE, 1,
     "dependency {dep} unreachable: dial tcp {ip4}:{port}: connect: connection refused"},
    {kCatCommon, kF, 1, "fatal: cannot bind to 0.0.0.0:{port}: address already in use"},
    // JVM.
    {kCatJvm, kE, 2,
     "java.lang.IllegalStateException: order {orderid} is not PENDING "
     "at com.acme.orders.OrderService.confirm(OrderService.java:{line}) "
     "at com.acme.orders.OrderController.confirm(OrderController.java:{line}) "
     "at jdk.internal.reflect.GeneratedMethodAccessor{small}.invoke(Unknown Source)"},
    {kCatJvm, kE, 1,
     "Exception in thread \"http-nio-8080-exec-{small}\" java.lang.NullPointerException: "
     "Cannot invoke \"String.length()\" because \"name\" is null"},
    {kCatJvm, kW, 1, "GC pause (G1 Evacuation Pause) (young) {mb}M->{mb}M(2048M) {ms}ms"},
    {kCatJvm, kF, 1,
     "java.lang.OutOfMemoryError: Java heap space\n"
     "\tat java.base/java.util.Arrays.copyOf(Arrays.java:3512)\n"
     "\tat java.base/java.lang.StringBuilder.append(StringBuilder.java:{line})"},
    // Go.
    {kCatGo, kE, 2,
     "http: panic serving {ip4}:{port}: runtime error: invalid memory address or nil pointer "
     "dereference goroutine {goroutine} [running]: main.(*Server).handle(0xc000{hex8}) "
     "/app/server.go:{line} +0x1d4"},
    {kCatGo, kW, 1, "context deadline exceeded while calling {dep} after {dur}"},
    {kCatGo, kF, 1,
     "panic: runtime error: index out of range [{small}] with length {small}\n\n"
     "goroutine {goroutine} [running]:\nmain.(*Worker).process(...)\n\t/app/worker.go:{line} "
     "+0x1d4"},
    // Python.
    {kCatPy, kE, 2,
     "Traceback (most recent call last):\n"
     "  File \"/app/handlers.py\", line {line}, in handle\n"
     "    result = self.process(payload)\n"
     "KeyError: '{field}'"},
    {kCatPy, kW, 1,
     "InsecureRequestWarning: Unverified HTTPS request is being made to host '{dep}'. "
     "Adding certificate verification is strongly advised."},
    {kCatPy, kF, 1,
     "worker {pid} exited with code 1: sqlalchemy.exc.OperationalError: "
     "(psycopg2.OperationalError) could not connect to server: Connection refused"},
    // Search.
    {kCatSearch, kI, 3, R"(search query="{query}" index={index} hits={num} took {dur})"},
    {kCatSearch, kW, 1, "elasticsearch cluster health is YELLOW: {small} unassigned shards"},
    {kCatSearch, kD, 1, R"(rewrote query "{query}" with {small} synonyms)"},
    // Notifications.
    {kCatNotify, kI, 3,
     "sent email template={mailtpl} to={email} message_id=<{uuid}@mail.acme.io>"},
    {kCatNotify, kE, 1, "SMTP delivery failed for {email}: 550 5.1.1 mailbox unavailable"},
    {kCatNotify, kI, 2, "push notification delivered to device {hex16} in {dur}"},
    // The needle; must stay the last template.
    {kCatNeedle, kW, 1, "zebracorn sighting: request {uuid} took an unusual path {path}"},
};
constexpr int kTemplateCount = static_cast<int>(std::size(kTemplateSpecs));
constexpr int kNeedleTemplate = kTemplateCount - 1;

struct Op {
  Var var;
  std::string_view literal;  // when var == kLiteral
};
struct CompiledTemplate {
  std::vector<Op> ops;
  std::string text;  // with <*>
};

std::vector<CompiledTemplate> CompileTemplates() {
  std::vector<CompiledTemplate> out;
  out.reserve(kTemplateCount);
  for (const TemplateSpec& spec : kTemplateSpecs) {
    CompiledTemplate t;
    std::string_view rest = spec.text;
    while (!rest.empty()) {
      const size_t open = rest.find('{');
      if (open != 0) {
        const std::string_view lit = rest.substr(0, open);
        t.ops.push_back({kLiteral, lit});
        t.text.append(lit);
        if (open == std::string_view::npos) break;
      }
      const size_t close = rest.find('}', open);
      if (close == std::string_view::npos) std::abort();  // malformed template
      const std::string_view name = rest.substr(open + 1, close - open - 1);
      const auto it = std::find(kVarNames.begin() + 1, kVarNames.end(), name);
      if (it == kVarNames.end()) std::abort();  // unknown variable in a template
      t.ops.push_back({static_cast<Var>(it - kVarNames.begin()), {}});
      t.text.append("<*>");
      rest.remove_prefix(close + 1);
    }
    out.push_back(std::move(t));
  }
  return out;
}

const std::vector<CompiledTemplate>& Templates() {
  static const std::vector<CompiledTemplate> templates = CompileTemplates();
  return templates;
}

// ---------------------------------------------------------------------------------------------
// Services.

struct Profile {
  std::string_view name;
  Origin origin;
  uint32_t categories;  // besides kCatCommon (and kCatK8s for Kubernetes services)
  int access;           // access-log template id, or -1
  bool json_fields;     // access lines also carry numeric "status" and "latency_ms" fields
  TsShape ts_shape;     // http services only
};

// The first twelve (the default fleet) cover every origin, every http timestamp shape and every
// template.
constexpr Profile kProfiles[] = {
    {"checkout", kOriginK8s, kCatWeb | kCatDb | kCatCache | kCatPay | kCatQueue | kCatJvm, 2, false,
     kTsJsDate},
    {"payments", kOriginCloudWatch, kCatPay | kCatDb | kCatWeb | kCatGo, 3, true, kTsJsDate},
    {"inventory", kOriginDocker, kCatDb | kCatCache | kCatQueue | kCatWeb | kCatGo, 1, false,
     kTsJsDate},
    {"auth", kOriginHttp, kCatAuth | kCatCache | kCatDb | kCatWeb | kCatGo, 1, true, kTsJsDate},
    {"search", kOriginHttp, kCatSearch | kCatCache | kCatWeb | kCatJvm, 0, false, kTsRfc3339Offset},
    {"frontend", kOriginHttp, kCatWeb | kCatCache | kCatPy, 0, true, kTsEpochSeconds},
    {"api-gateway", kOriginK8s, kCatWeb | kCatAuth | kCatGo, 2, true, kTsJsDate},
    {"notification", kOriginCloudWatch, kCatNotify | kCatQueue | kCatPy, -1, false, kTsJsDate},
    {"billing", kOriginDocker, kCatPay | kCatDb | kCatQueue | kCatJvm, -1, false, kTsJsDate},
    {"recommendation", kOriginHttp, kCatCache | kCatQueue | kCatSearch | kCatWeb | kCatPy, 3, true,
     kTsEpochMsString},
    {"shipping", kOriginHttp, kCatDb | kCatQueue | kCatWeb | kCatJvm, 1, true, kTsRfc2822},
    {"code-scanner-service", kOriginHttp, kCatQueue | kCatWeb | kCatPy, 2, false,
     kTsJsDatePrefixed},
    {"user-profile", kOriginK8s, kCatDb | kCatCache | kCatAuth | kCatWeb | kCatGo, 1, true,
     kTsJsDate},
    {"cart", kOriginDocker, kCatCache | kCatDb | kCatWeb | kCatJvm, 2, false, kTsJsDate},
    {"fraud-detection", kOriginCloudWatch, kCatPay | kCatQueue | kCatPy, -1, false, kTsJsDate},
    {"order-history", kOriginHttp, kCatDb | kCatWeb | kCatJvm, 3, true, kTsEpochSeconds},
    {"pricing", kOriginK8s, kCatCache | kCatDb | kCatWeb | kCatGo, 0, false, kTsJsDate},
    {"reviews", kOriginHttp, kCatDb | kCatSearch | kCatWeb | kCatPy, 1, false, kTsRfc2822},
    {"ad-service", kOriginK8s, kCatCache | kCatWeb | kCatJvm, 2, true, kTsJsDate},
    {"email-worker", kOriginDocker, kCatNotify | kCatQueue | kCatPy, -1, false, kTsJsDate},
    {"ledger", kOriginCloudWatch, kCatPay | kCatDb | kCatGo, -1, false, kTsJsDate},
    {"media-upload", kOriginHttp, kCatWeb | kCatQueue | kCatGo, 0, true, kTsRfc3339Offset},
    {"geo-location", kOriginHttp, kCatCache | kCatWeb | kCatGo, 3, false, kTsEpochMsString},
    {"analytics-ingest", kOriginK8s, kCatQueue | kCatDb | kCatJvm, -1, false, kTsJsDate},
};
constexpr size_t kProfileCount = std::size(kProfiles);
constexpr std::string_view kDesignService = "code-scanner-service";

// Level distribution on a 2^32 scale: 5.5% debug, 76% info, 12% warn, 6% error, 0.5% fatal.
constexpr uint64_t kScale32 = uint64_t{1} << 32;
constexpr uint64_t kDebugBelow = kScale32 * 55 / 1000;
constexpr uint64_t kInfoBelow = kDebugBelow + kScale32 * 760 / 1000;
constexpr uint64_t kWarnBelow = kInfoBelow + kScale32 * 120 / 1000;
constexpr uint64_t kErrorBelow = kWarnBelow + kScale32 * 60 / 1000;
// The needle: probability 1e-6 per line, on a 2^64 scale.
constexpr uint64_t kNeedleBelow = UINT64_MAX / 1000000;
constexpr uint32_t kBurstErrorPercent = 85;

// ---------------------------------------------------------------------------------------------
// Word lists for variables.

constexpr std::array<std::string_view, 16> kMethods = {
    "GET", "GET", "GET",  "GET",  "GET",  "GET", "GET",    "GET",
    "GET", "GET", "POST", "POST", "POST", "PUT", "DELETE", "PATCH"};
constexpr std::array<std::string_view, 7> kUserAgents = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:120.0) Gecko/20100101 Firefox/120.0",
    "curl/8.4.0",
    "okhttp/4.12.0",
    "Go-http-client/1.1",
    "python-requests/2.31.0",
};
constexpr std::array<std::string_view, 6> kDeps = {"inventory.prod.svc.cluster.local",
                                                   "payments.prod.svc.cluster.local",
                                                   "redis-master.cache.svc.cluster.local",
                                                   "orders-db.prod.internal",
                                                   "api.stripe.com",
                                                   "search-es-0.search.svc.cluster.local"};
constexpr std::array<uint16_t, 8> kPorts = {8080, 8443, 5432, 6379, 9090, 3000, 50051, 9200};
constexpr std::array<std::string_view, 7> kErrors = {"connection reset by peer",
                                                     "i/o timeout",
                                                     "EOF",
                                                     "connection refused",
                                                     "context deadline exceeded",
                                                     "no route to host",
                                                     "net/http: TLS handshake timeout"};
constexpr std::array<std::string_view, 4> kMimes = {"application/json", "text/html", "*/*",
                                                    "application/x-protobuf"};
constexpr std::array<std::string_view, 10> kTables = {
    "orders",    "order_items", "users", "sessions", "payments",
    "inventory", "shipments",   "carts", "products", "audit_log"};
constexpr std::array<std::string_view, 4> kAuthMethods = {"password", "sso", "oauth2",
                                                          "magic-link"};
constexpr std::array<std::string_view, 12> kFirstNames = {"dana",  "noam",  "maria", "john",
                                                          "wei",   "priya", "ahmed", "olga",
                                                          "lucas", "yuki",  "sean",  "fatima"};
constexpr std::array<std::string_view, 12> kLastNames = {"levi",  "cohen",  "garcia",  "smith",
                                                         "zhang", "patel",  "hassan",  "ivanova",
                                                         "silva", "tanaka", "o'brien", "diallo"};
constexpr std::array<std::string_view, 5> kDomains = {"gmail.com", "example.com", "acme.io",
                                                      "outlook.com", "yahoo.co.uk"};
constexpr std::array<std::string_view, 5> kCurrencies = {"USD", "EUR", "GBP", "ILS", "JPY"};
constexpr std::array<std::string_view, 4> kCards = {"visa", "mastercard", "amex", "discover"};
constexpr std::array<std::string_view, 5> kDeclines = {
    "insufficient_funds", "card_declined", "expired_card", "do_not_honor", "incorrect_cvc"};
constexpr std::array<std::string_view, 6> kTopics = {"orders.created",       "payments.settled",
                                                     "inventory.reserved",   "notifications.email",
                                                     "shipments.dispatched", "user.events"};
constexpr std::array<std::string_view, 5> kFlags = {"new-checkout-flow", "dark-mode", "recs-v2",
                                                    "fast-shipping-banner", "one-click-buy"};
constexpr std::array<std::string_view, 5> kFields = {"user_id", "items", "shipping_address",
                                                     "currency", "sku"};
// Search queries, including a double quote, a backslash and non-ASCII UTF-8.
constexpr std::array<std::string_view, 12> kQueries = {
    "running shoes",      "wireless headphones", "usb-c cable",   "winter jacket",
    "coffee grinder",     "4k monitor",          "standing desk", "yoga mat",
    "13\" laptop sleeve", "C:\\Users\\backup",   "café crème",    "東京 ramen"};
constexpr std::array<std::string_view, 5> kPathWords = {"shoes", "headphones", "jacket", "laptop",
                                                        "desk"};
constexpr std::array<std::string_view, 3> kIndexes = {"products-v7", "catalog-2024.11", "users-v2"};
constexpr std::array<std::string_view, 4> kMailTemplates = {"order_confirmation", "password_reset",
                                                            "shipping_update", "welcome"};
constexpr std::array<std::string_view, 3> kIpv6Prefixes = {"2001:db8:", "2a02:c7f:", "2600:1f18:"};
// Kubernetes' alphabet for generated name suffixes (no vowels, no confusable digits).
constexpr std::string_view kK8sAlphabet = "bcdfghjklmnpqrstvwxz2456789";
constexpr std::string_view kHexDigits = "0123456789abcdef";

// ---------------------------------------------------------------------------------------------
// Text helpers.

void AppendUint(std::string* out, uint64_t v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, res.ptr);
}

void AppendInt(std::string* out, int64_t v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, res.ptr);
}

// Appends `digits` hex digits taken from the low bits of `bits` (digits <= 16).
void AppendHex(std::string* out, uint64_t bits, int digits) {
  char buf[16];
  for (int i = digits - 1; i >= 0; --i) {
    buf[i] = kHexDigits[bits & 15];
    bits >>= 4;
  }
  out->append(buf, static_cast<size_t>(digits));
}


// ---------------------------------------------------------------------------------------------
// Time formatting (proleptic Gregorian calendar, days-from-civil arithmetic).

constexpr int64_t kNanosPerSecond = 1000000000;
constexpr int64_t kNanosPerMilli = 1000000;

constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

struct DateTime {
  int64_t year;
  int month;  // 1..12
  int day;    // 1..31
  int hour;
  int minute;
  int second;
  int weekday;  // 0 = Sunday
};

// Howard Hinnant's civil_from_days.
DateTime BreakDown(int64_t seconds) {
  const int64_t days = FloorDiv(seconds, 86400);
  const int64_t secs_of_day = seconds - days * 86400;
  const int64_t z = days + 719468;
  const int64_t era = FloorDiv(z, 146097);
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  DateTime dt;
  dt.year = yoe + era * 400 + (m <= 2 ? 1 : 0);
  dt.month = static_cast<int>(m);
  dt.day = static_cast<int>(d);
  dt.hour = static_cast<int>(secs_of_day / 3600);
  dt.minute = static_cast<int>(secs_of_day / 60 % 60);
  dt.second = static_cast<int>(secs_of_day % 60);
  dt.weekday = static_cast<int>(days + 4 - FloorDiv(days + 4, 7) * 7);  // 1970-01-01 was a Thursday
  return dt;
}

// Writes v as exactly `width` digits (v >= 0 and fits).
char* PutDigits(char* p, int64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + width;
}

char* PutText(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

char* PutYear(char* p, int64_t year) {
  if (year >= 0 && year <= 9999) return PutDigits(p, year, 4);
  return std::to_chars(p, p + 24, year).ptr;
}

// "YYYY-MM-DDTHH:MM:SS"
char* PutIsoDateTime(char* p, const DateTime& dt) {
  p = PutYear(p, dt.year);
  *p++ = '-';
  p = PutDigits(p, dt.month, 2);
  *p++ = '-';
  p = PutDigits(p, dt.day, 2);
  *p++ = 'T';
  p = PutDigits(p, dt.hour, 2);
  *p++ = ':';
  p = PutDigits(p, dt.minute, 2);
  *p++ = ':';
  return PutDigits(p, dt.second, 2);
}

// "HH:MM:SS"
char* PutClock(char* p, const DateTime& dt) {
  p = PutDigits(p, dt.hour, 2);
  *p++ = ':';
  p = PutDigits(p, dt.minute, 2);
  *p++ = ':';
  return PutDigits(p, dt.second, 2);
}

// "+hhmm" or, with colon, "+hh:mm".
char* PutOffset(char* p, int offset_minutes, bool colon) {
  *p++ = offset_minutes < 0 ? '-' : '+';
  const int abs_minutes = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  p = PutDigits(p, abs_minutes / 60, 2);
  if (colon) *p++ = ':';
  return PutDigits(p, abs_minutes % 60, 2);
}

// RFC 3339 in UTC with the ns fraction: 9 digits, or Go's RFC3339Nano (trailing zeros trimmed,
// no fraction on a whole second).
void AppendRfc3339Nanos(std::string* out, int64_t ns, bool trim) {
  char buf[64];
  const int64_t secs = FloorDiv(ns, kNanosPerSecond);
  int64_t frac = ns - secs * kNanosPerSecond;
  char* p = PutIsoDateTime(buf, BreakDown(secs));
  int digits = 9;
  if (trim) {
    while (digits > 0 && frac % 10 == 0) {
      frac /= 10;
      --digits;
    }
  }
  if (digits > 0) {
    *p++ = '.';
    p = PutDigits(p, frac, digits);
  }
  *p++ = 'Z';
  out->append(buf, p);
}

// Appends the JSON value (quoted or not) of an http service's timestamp in `shape` and returns the
// instant it encodes: `ns` truncated to the shape's precision.
int64_t AppendHttpTimestamp(std::string* out, uint8_t shape, const Zone& zone, int64_t ns) {
  int64_t written_ns = ns;
  char buf[128];
  char* p = buf;
  const int64_t secs = FloorDiv(ns, kNanosPerSecond);
  const int64_t ms = FloorDiv(ns, kNanosPerMilli);
  switch (shape) {
    case kTsJsDatePrefixed:
    case kTsJsDate: {
      written_ns = secs * kNanosPerSecond;
      const DateTime dt = BreakDown(secs + zone.offset_minutes * int64_t{60});
      *p++ = '"';
      if (shape == kTsJsDatePrefixed) p = PutText(p, "Date ");
      p = PutText(p, kWeekdays[static_cast<size_t>(dt.weekday)]);
      *p++ = ' ';
      p = PutText(p, kMonths[static_cast<size_t>(dt.month - 1)]);
      *p++ = ' ';
      p = PutDigits(p, dt.day, 2);
      *p++ = ' ';
      p = PutYear(p, dt.year);
      *p++ = ' ';
      p = PutClock(p, dt);
      p = PutText(p, " GMT");
      p = PutOffset(p, zone.offset_minutes, /*colon=*/false);
      p = PutText(p, " (");
      p = PutText(p, zone.name);
      p = PutText(p, ")\"");
      break;
    }
    case kTsRfc3339Offset: {
      written_ns = ms * kNanosPerMilli;
      const int64_t local_ms = ms + zone.offset_minutes * int64_t{60000};
      const int64_t local_secs = FloorDiv(local_ms, 1000);
      *p++ = '"';
      p = PutIsoDateTime(p, BreakDown(local_secs));
      *p++ = '.';
      p = PutDigits(p, local_ms - local_secs * 1000, 3);
      p = PutOffset(p, zone.offset_minutes, /*colon=*/true);
      *p++ = '"';
      break;
    }
    case kTsEpochSeconds: {
      written_ns = ms * kNanosPerMilli;
      const int64_t abs_ms = ms < 0 ? -ms : ms;
      if (ms < 0) *p++ = '-';
      p = std::to_chars(p, p + 24, abs_ms / 1000).ptr;
      *p++ = '.';
      p = PutDigits(p, abs_ms % 1000, 3);
      break;
    }
    case kTsEpochMsString:
      written_ns = ms * kNanosPerMilli;
      *p++ = '"';
      p = std::to_chars(p, p + 24, ms).ptr;
      *p++ = '"';
      break;
    default: {  // kTsRfc2822
      written_ns = secs * kNanosPerSecond;
      const DateTime dt = BreakDown(secs + zone.offset_minutes * int64_t{60});
      *p++ = '"';
      p = PutText(p, kWeekdays[static_cast<size_t>(dt.weekday)]);
      p = PutText(p, ", ");
      p = PutDigits(p, dt.day, 2);
      *p++ = ' ';
      p = PutText(p, kMonths[static_cast<size_t>(dt.month - 1)]);
      *p++ = ' ';
      p = PutYear(p, dt.year);
      *p++ = ' ';
      p = PutClock(p, dt);
      *p++ = ' ';
      p = PutOffset(p, zone.offset_minutes, /*colon=*/false);
      *p++ = '"';
      break;
    }
  }
  out->append(buf, p);
  return written_ns;
}

// ---------------------------------------------------------------------------------------------
// Building the fleet.

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr uint64_t Rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

}  // namespace

// Per-line values shared by the variables of one message.
struct FleetGenerator::LineVars {
  Level level;
  int status;
  uint32_t latency_ms;
  size_t service;
};

uint64_t FleetGenerator::Rand() {  // xoshiro256**
  const uint64_t result = Rotl(rng_[1] * 5, 7) * 9;
  const uint64_t t = rng_[1] << 17;
  rng_[2] ^= rng_[0];
  rng_[3] ^= rng_[1];
  rng_[1] ^= rng_[2];
  rng_[0] ^= rng_[3];
  rng_[2] ^= t;
  rng_[3] = Rotl(rng_[3], 45);
  return result;
}

uint32_t FleetGenerator::Below(uint64_t n) {
  return static_cast<uint32_t>(((Rand() >> 32) * n) >> 32);
}

FleetGenerator::FleetGenerator(const FleetOptions& options) {
  uint64_t sm = options.seed;
  for (uint64_t& s : rng_) s = SplitMix64(&sm);
  msg_.reserve(1024);

  const size_t service_count = static_cast<size_t>(std::max(1, options.services));
  const size_t instance_count = static_cast<size_t>(std::max(1, options.instances_per_service));
  service_names_.reserve(service_count);
  services_.resize(service_count);

  // Kubernetes nodes shared by the whole fleet.
  std::array<std::string, 6> nodes;
  for (std::string& node : nodes) {
    node = "ip-10-0-";
    AppendUint(&node, 16 + Below(48));
    node += '-';
    AppendUint(&node, 1 + Below(254));
    node += ".ec2.internal";
  }

  const uint32_t style_rotation = Below(kLevelStyleCount - 1);
  uint32_t http_index = 0;
  for (size_t i = 0; i < service_count; ++i) {
    const Profile& profile = kProfiles[i % kProfileCount];
    std::string name(profile.name);
    if (i >= kProfileCount) {
      name += '-';
      AppendUint(&name, i / kProfileCount + 1);
    }
    Service& svc = services_[i];
    svc.origin = profile.origin;
    svc.json_fields = profile.json_fields;

    // Template choices per level, weighted by repetition.
    uint32_t categories = profile.categories | kCatCommon;
    if (profile.origin == kOriginK8s) categories |= kCatK8s;
    for (int id = 0; id < kTemplateCount; ++id) {
      const TemplateSpec& spec = kTemplateSpecs[id];
      const bool wanted =
          spec.category == kCatAccess ? id == profile.access : (spec.category & categories) != 0;
      if (!wanted) continue;
      for (int l = 0; l < 5; ++l) {
        if ((spec.levels & (1u << l)) == 0) continue;
        auto& choices = svc.templates_by_level[static_cast<size_t>(l) + 2];
        choices.insert(choices.end(), spec.weight, static_cast<uint16_t>(id));
      }
    }

    svc.instances.resize(instance_count);
    switch (profile.origin) {
      case kOriginK8s: {
        svc.group.clear();
        const uint32_t hash_len = 9 + Below(2);
        for (uint32_t c = 0; c < hash_len; ++c)
          svc.group += kK8sAlphabet[Below(kK8sAlphabet.size())];
        for (Instance& inst : svc.instances) {
          inst.name = name + '-' + svc.group + '-';
          for (int c = 0; c < 5; ++c) inst.name += kK8sAlphabet[Below(kK8sAlphabet.size())];
          inst.host = nodes[Below(nodes.size())];
        }
        break;
      }
      case kOriginDocker: {
        svc.group = "acme/" + name + ":";
        AppendUint(&svc.group, 1 + Below(3));
        svc.group += '.';
        AppendUint(&svc.group, Below(20));
        svc.group += '.';
        AppendUint(&svc.group, Below(10));
        for (size_t k = 0; k < instance_count; ++k) {
          Instance& inst = svc.instances[k];
          inst.name = name + '-';
          AppendUint(&inst.name, k + 1);
          for (int c = 0; c < 4; ++c) AppendHex(&inst.id, Rand(), 16);
        }
        break;
      }
      case kOriginCloudWatch: {
        svc.lambda = Below(3) != 0;
        svc.group = (svc.lambda ? "/aws/lambda/" : "/ecs/") + name;
        for (Instance& inst : svc.instances) {
          // Lambda stream dates are filled in from the first event (DateLambdaStreams).
          inst.name = svc.lambda ? "0000/00/00/[$LATEST]" : "ecs/" + name + "/";
          AppendHex(&inst.name, Rand(), 16);
          AppendHex(&inst.name, Rand(), 16);
        }
        break;
      }
      case kOriginHttp: {
        const bool design = name == kDesignService;
        svc.ts_shape = profile.ts_shape;
        if (design) {
          svc.zone = 0;  // Israel Standard Time
          svc.spaced = true;
        } else {
          svc.zone = static_cast<uint8_t>(Below(kZones.size()));
          svc.level_style =
              static_cast<uint8_t>(1 + (http_index + style_rotation) % (kLevelStyleCount - 1));
          svc.level_key = static_cast<uint8_t>(Below(kLevelKeys.size()));
          svc.msg_key = static_cast<uint8_t>(Below(kMsgKeys.size()));
          svc.ts_key = static_cast<uint8_t>(Below(kTsKeys.size()));
          svc.spaced = Below(2) == 0;
          svc.ts_first = Below(2) == 0;
          ++http_index;
        }
        const uint32_t kind = design ? 0 : Below(3);
        for (size_t k = 0; k < instance_count; ++k) {
          Instance& inst = svc.instances[k];
          if (kind == 0) {  // public IPv4
            AppendUint(&inst.name, 11 + Below(212));
            for (int part = 0; part < 3; ++part) {
              inst.name += '.';
              AppendUint(&inst.name, part == 2 ? 1 + Below(254) : Below(256));
            }
          } else if (kind == 1) {  // private IPv4
            inst.name = "10.";
            AppendUint(&inst.name, Below(256));
            inst.name += '.';
            AppendUint(&inst.name, Below(256));
            inst.name += '.';
            AppendUint(&inst.name, 1 + Below(254));
          } else {  // host name
            inst.name = name + '-';
            if (k + 1 < 10) inst.name += '0';
            AppendUint(&inst.name, k + 1);
            inst.name += ".prod.internal";
          }
        }
        break;
      }
      default: break;
    }
    service_names_.push_back(std::move(name));
  }

  // Traffic: service of rank r gets weight 1 / (1 + r/2); ranks are a seeded permutation.
  std::vector<uint32_t> rank(service_count);
  for (size_t i = 0; i < service_count; ++i) rank[i] = static_cast<uint32_t>(i);
  for (size_t i = service_count; i > 1; --i) std::swap(rank[i - 1], rank[Below(i)]);
  std::vector<double> weight(service_count);
  double total = 0;
  for (size_t i = 0; i < service_count; ++i) {
    weight[i] = 2.0 / (2.0 + rank[i]);
    total += weight[i];
  }
  cumulative_.resize(service_count);
  double acc = 0;
  for (size_t i = 0; i < service_count; ++i) {
    acc += weight[i];
    cumulative_[i] = static_cast<uint64_t>(acc / total * static_cast<double>(kScale32));
  }
  cumulative_.back() = kScale32;

  const double rate = options.error_burst_rate;
  if (rate >= 1.0) {
    burst_threshold_ = UINT64_MAX;
  } else if (rate > 0.0) {
    burst_threshold_ = static_cast<uint64_t>(rate * 18446744073709551616.0);
  }
}

int FleetGenerator::TemplateCount() {
  return kTemplateCount;
}

std::string_view FleetGenerator::TemplateText(int template_id) {
  if (template_id < 0 || template_id >= kTemplateCount) return {};
  return Templates()[static_cast<size_t>(template_id)].text;
}

int FleetGenerator::NeedleTemplateId() {
  return kNeedleTemplate;
}

void FleetGenerator::DateLambdaStreams(int64_t timestamp_ns) {
  dated_ = true;
  DateTime dt = BreakDown(FloorDiv(timestamp_ns, kNanosPerSecond));
  dt.year = std::clamp<int64_t>(dt.year, 0, 9999);
  char date[10];
  char* p = PutDigits(date, dt.year, 4);
  *p++ = '/';
  p = PutDigits(p, dt.month, 2);
  *p++ = '/';
  PutDigits(p, dt.day, 2);
  for (Service& svc : services_) {
    if (svc.origin != kOriginCloudWatch || !svc.lambda) continue;
    for (Instance& inst : svc.instances) inst.name.replace(0, sizeof(date), date, sizeof(date));
  }
}

void FleetGenerator::AppendVar(int var, const LineVars& line, std::string* out) {
  switch (static_cast<Var>(var)) {
    case kVarIp:
      if (Below(10) != 0) {
        AppendUint(out, 11 + Below(212));
        for (int i = 0; i < 3; ++i) {
          out->push_back('.');
          AppendUint(out, i == 2 ? 1 + Below(254) : Below(256));
        }
      } else {
        out->append(kIpv6Prefixes[Below(kIpv6Prefixes.size())]);
        const uint64_t words[2] = {Rand(), Rand()};
        for (int i = 0; i < 6; ++i) {
          if (i > 0) out->push_back(':');
          const uint64_t group = (words[i / 4] >> (16 * (i % 4))) & 0xffff;
          char buf[8];
          const auto res = std::to_chars(buf, buf + sizeof(buf), group, 16);
          out->append(buf, res.ptr);
        }
      }
      break;
    case kVarIp4:
      out->append("10.");
      AppendUint(out, Below(256));
      out->push_back('.');
      AppendUint(out, Below(256));
      out->push_back('.');
      AppendUint(out, 1 + Below(254));
      break;
    case kVarMethod: out->append(kMethods[Below(kMethods.size())]); break;
    case kVarPath:
      switch (Below(12)) {
        case 0:
          out->append("/api/v1/orders/");
          AppendUint(out, 10000 + Below(990000));
          break;
        case 1:
          out->append("/api/v1/users/");
          AppendUint(out, 1000 + Below(9000000));
          out->append("/cart");
          break;
        case 2:
          out->append("/api/v1/products/");
          AppendUint(out, 100 + Below(99900));
          break;
        case 3:
          out->append("/api/v2/search?q=");
          out->append(kPathWords[Below(kPathWords.size())]);
          out->append("&page=");
          AppendUint(out, 1 + Below(9));
          break;
        case 4:
          out->append("/api/v1/payments/");
          AppendVar(kVarUuid, line, out);
          break;
        case 5:
          out->append("/api/v1/inventory/sku/SKU-");
          AppendUint(out, 100000 + Below(900000));
          break;
        case 6: out->append("/healthz"); break;
        case 7:
          out->append("/static/js/main.");
          AppendHex(out, Rand(), 8);
          out->append(".js");
          break;
        case 8: out->append("/api/v1/sessions"); break;
        case 9: out->append("/graphql"); break;
        case 10:
          out->append("/api/v1/shipments/");
          AppendUint(out, 10000 + Below(990000));
          out->append("/tracking");
          break;
        default:
          out->append("/api/v1/users/");
          AppendUint(out, 1000 + Below(9000000));
          break;
      }
      break;
    case kVarStatus: AppendUint(out, static_cast<uint64_t>(line.status)); break;
    case kVarBytes: {
      const uint32_t r = Below(100);
      AppendUint(out, r < 60   ? 100 + Below(4900)
                      : r < 90 ? 5000 + Below(95000)
                               : 100000 + Below(1900000));
      break;
    }
    case kVarUa: out->append(kUserAgents[Below(kUserAgents.size())]); break;
    case kVarDur:
      if (line.latency_ms < 1000) {
        AppendUint(out, line.latency_ms);
        out->append("ms");
      } else {
        AppendUint(out, line.latency_ms / 1000);
        const uint32_t tenths = line.latency_ms % 1000 / 100;
        if (tenths != 0) {
          out->push_back('.');
          out->push_back(static_cast<char>('0' + tenths));
        }
        out->push_back('s');
      }
      break;
    case kVarMs: AppendUint(out, line.latency_ms); break;
    case kVarUuid: {
      const uint64_t hi = (Rand() & 0xffffffffffff0fffULL) | 0x4000ULL;
      const uint64_t lo = (Rand() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
      char buf[36];
      static constexpr int kGroups[] = {8, 4, 4, 4, 12};
      uint64_t parts[2] = {hi, lo};
      int nibble = 0;
      char* p = buf;
      for (int g = 0; g < 5; ++g) {
        if (g > 0) *p++ = '-';
        for (int k = 0; k < kGroups[g]; ++k, ++nibble) {
          const uint64_t word = parts[nibble / 16];
          *p++ = kHexDigits[(word >> (60 - 4 * (nibble % 16))) & 15];
        }
      }
      out->append(buf, sizeof(buf));
      break;
    }
    case kVarNum: AppendUint(out, 1 + Below(5000)); break;
    case kVarSmall: AppendUint(out, 1 + Below(5)); break;
    case kVarDep: out->append(kDeps[Below(kDeps.size())]); break;
    case kVarPort: AppendUint(out, kPorts[Below(kPorts.size())]); break;
    case kVarErr: out->append(kErrors[Below(kErrors.size())]); break;
    case kVarMime: out->append(kMimes[Below(kMimes.size())]); break;
    case kVarTable: out->append(kTables[Below(kTables.size())]); break;
    case kVarSqlId: AppendUint(out, 1 + Below(50000000)); break;
    case kVarKey:
      switch (Below(4)) {
        case 0:
          out->append("user:");
          AppendUint(out, 1000 + Below(9000000));
          out->append(":profile");
          break;
        case 1:
          out->append("cart:");
          AppendHex(out, Rand(), 16);
          break;
        case 2:
          out->append("product:");
          AppendUint(out, 100 + Below(99900));
          break;
        default:
          out->append("session:");
          AppendHex(out, Rand(), 16);
          break;
      }
      break;
    case kVarSize: {
      const uint32_t kb = 1 + Below(1 << 21);
      if (kb < 1024) {
        AppendUint(out, kb);
        out->append("KiB");
      } else {
        AppendUint(out, kb / 1024);
        out->push_back('.');
        out->push_back(static_cast<char>('0' + kb % 1024 * 10 / 1024));
        out->append("MiB");
      }
      break;
    }
    case kVarUid: AppendUint(out, 1000 + Below(9000000)); break;
    case kVarAuthMethod: out->append(kAuthMethods[Below(kAuthMethods.size())]); break;
    case kVarEmail: {
      out->append(kFirstNames[Below(kFirstNames.size())]);
      out->push_back('.');
      out->append(kLastNames[Below(kLastNames.size())]);
      const uint32_t r = Below(8);
      if (r == 0) {
        out->append("+promo");
      } else if (r < 3) {
        AppendUint(out, Below(100));
      }
      out->push_back('@');
      out->append(kDomains[Below(kDomains.size())]);
      break;
    }
    case kVarHex8: AppendHex(out, Rand(), 8); break;
    case kVarHex16: AppendHex(out, Rand(), 16); break;
    case kVarOrderId:
      out->append("ORD-");
      AppendUint(out, 10000000 + Below(90000000));
      break;
    case kVarAmount:
      AppendUint(out, 1 + Below(999));
      out->push_back('.');
      AppendUint(out, 10 + Below(90));
      break;
    case kVarCurrency: out->append(kCurrencies[Below(kCurrencies.size())]); break;
    case kVarCard: out->append(kCards[Below(kCards.size())]); break;
    case kVarLast4: AppendUint(out, 1000 + Below(9000)); break;
    case kVarDecline: out->append(kDeclines[Below(kDeclines.size())]); break;
    case kVarTopic: out->append(kTopics[Below(kTopics.size())]); break;
    case kVarPartition: AppendUint(out, Below(24)); break;
    case kVarOffset: AppendUint(out, 100000 + Below(900000000)); break;
    case kVarVersion:
      AppendUint(out, 1 + Below(3));
      out->push_back('.');
      AppendUint(out, Below(20));
      out->push_back('.');
      AppendUint(out, Below(10));
      break;
    case kVarPid: AppendUint(out, 7 + Below(40000)); break;
    case kVarService: out->append(service_names_[line.service]); break;
    case kVarFlag: out->append(kFlags[Below(kFlags.size())]); break;
    case kVarBool: out->append(Below(2) != 0 ? "true" : "false"); break;
    case kVarPct:
      AppendUint(out, 80 + Below(20));
      out->push_back('.');
      AppendUint(out, Below(10));
      break;
    case kVarLine: AppendUint(out, 20 + Below(1500)); break;
    case kVarMb: AppendUint(out, 64 + Below(1984)); break;
    case kVarGoroutine: AppendUint(out, 1 + Below(50000)); break;
    case kVarField: out->append(kFields[Below(kFields.size())]); break;
    case kVarQuery: out->append(kQueries[Below(kQueries.size())]); break;
    case kVarIndex: out->append(kIndexes[Below(kIndexes.size())]); break;
    case kVarMailTemplate: out->append(kMailTemplates[Below(kMailTemplates.size())]); break;
    case kLiteral:
    case kVarCount: break;
  }
}

GeneratedLine FleetGenerator::Next(int64_t timestamp_ns, std::string* out) {
  if (!dated_) DateLambdaStreams(timestamp_ns);

  // Which service and instance.
  const uint64_t pick = Rand() >> 32;
  size_t si = 0;
  while (pick >= cumulative_[si]) ++si;
  const Service& svc = services_[si];
  const Instance& inst = svc.instances[Below(svc.instances.size())];

  // Error bursts.
  if (burst_remaining_ == 0 && burst_threshold_ != 0 && Rand() < burst_threshold_) {
    burst_service_ = Below(services_.size());
    burst_remaining_ = 200 + Below(1801);
  }
  bool in_burst = false;
  if (burst_remaining_ > 0 && burst_service_ == si) {
    --burst_remaining_;
    in_burst = true;
  }

  // Level and template.
  LineVars line;
  line.service = si;
  int template_id;
  if (Rand() < kNeedleBelow) {
    template_id = kNeedleTemplate;
    line.level = Level::kWarn;
  } else {
    if (in_burst && Below(100) < kBurstErrorPercent) {
      line.level = Level::kError;
    } else {
      const uint64_t u = Rand() >> 32;
      line.level = u < kDebugBelow   ? Level::kDebug
                   : u < kInfoBelow  ? Level::kInfo
                   : u < kWarnBelow  ? Level::kWarn
                   : u < kErrorBelow ? Level::kError
                                     : Level::kFatal;
    }
    const auto& choices = svc.templates_by_level[static_cast<size_t>(line.level)];
    template_id = choices[Below(choices.size())];
  }

  // Per-line figures: HTTP status by level, latency with a long tail.
  const uint32_t s = Below(16);
  switch (line.level) {
    case Level::kWarn: {
      static constexpr int kWarnStatus[] = {400, 401, 403, 404, 404, 404, 409, 422,
                                            429, 429, 400, 404, 401, 404, 499, 413};
      line.status = kWarnStatus[s];
      break;
    }
    case Level::kError:
    case Level::kFatal: {
      static constexpr int kErrorStatus[] = {500, 500, 500, 500, 502, 502, 503, 503,
                                             503, 504, 504, 500, 502, 503, 504, 500};
      line.status = kErrorStatus[s];
      break;
    }
    default: {
      static constexpr int kOkStatus[] = {200, 200, 200, 200, 200, 200, 200, 200,
                                          200, 200, 201, 201, 204, 301, 302, 304};
      line.status = kOkStatus[s];
      break;
    }
  }
  const uint32_t tail = Below(100) + (line.level >= Level::kWarn ? 10 : 0);
  line.latency_ms = tail < 50   ? 1 + Below(99)
                    : tail < 85 ? 100 + Below(400)
                    : tail < 97 ? 500 + Below(1500)
                                : 2000 + Below(28000);

  // The message.
  const size_t slot = LevelSlot(line.level);
  msg_.clear();
  if (svc.origin == kOriginDocker) msg_.append(kDockerPrefixes[slot]);
  for (const Op& op : Templates()[static_cast<size_t>(template_id)].ops) {
    if (op.var == kLiteral) {
      msg_.append(op.literal);
    } else {
      AppendVar(op.var, line, &msg_);
    }
  }
  if (svc.origin == kOriginDocker) msg_.push_back('\n');

  const bool access_fields =
      svc.json_fields && template_id < kAccessTemplateCount && svc.origin != kOriginDocker;
  GeneratedLine result;
  result.timestamp_ns = timestamp_ns;
  result.level = line.level;
  result.service = service_names_[si];
  result.instance = inst.name;
  result.source = kSourceNames[svc.origin];
  result.template_id = template_id;
  result.message = msg_;
  if (svc.origin == kOriginDocker) result.message.remove_suffix(1);  // the "\n" of json-file

  switch (svc.origin) {
    case kOriginK8s:
      out->append(R"({"time":")");
      AppendRfc3339Nanos(out, timestamp_ns, /*trim=*/false);
      out->append(line.level >= Level::kWarn ? R"(","stream":"stderr","log":")"
                                             : R"(","stream":"stdout","log":")");
      JsonWriter::AppendEscaped(msg_, out);
      out->append(R"(","level":")");
      out->append(kLowerLevels[slot]);
      out->push_back('"');
      if (access_fields) {
        out->append(R"(,"status":)");
        AppendUint(out, static_cast<uint64_t>(line.status));
        out->append(R"(,"latency_ms":)");
        AppendUint(out, line.latency_ms);
      }
      out->append(R"(,"kubernetes":{"namespace_name":"prod","pod_name":")");
      out->append(inst.name);
      out->append(R"(","container_name":")");
      out->append(service_names_[si]);
      out->append(R"(","host":")");
      out->append(inst.host);
      out->append(R"(","labels":{"app":")");
      out->append(service_names_[si]);
      out->append(R"(","pod-template-hash":")");
      out->append(svc.group);
      out->append(R"("}}})");
      break;

    case kOriginDocker:
      out->append(R"({"log":")");
      JsonWriter::AppendEscaped(msg_, out);
      out->append(line.level >= Level::kWarn ? R"(","stream":"stderr","time":")"
                                             : R"(","stream":"stdout","time":")");
      AppendRfc3339Nanos(out, timestamp_ns, /*trim=*/true);
      out->append(R"(","attrs":{"tag":")");
      out->append(svc.group);
      out->push_back('/');
      out->append(inst.name);
      out->append(R"("},"container_name":")");
      out->append(inst.name);
      out->append(R"(","container_id":")");
      out->append(inst.id);
      out->append(R"(","service":")");
      out->append(service_names_[si]);
      out->append(R"("})");
      break;

    case kOriginCloudWatch: {
      const int64_t ms = FloorDiv(timestamp_ns, kNanosPerMilli);
      result.timestamp_ns = ms * kNanosPerMilli;
      out->append(R"({"timestamp":)");
      AppendInt(out, ms);
      out->append(R"(,"message":")");
      JsonWriter::AppendEscaped(msg_, out);
      out->append(R"(","logGroup":")");
      out->append(svc.group);
      out->append(R"(","logStream":")");
      out->append(inst.name);
      out->append(R"(","level":")");
      out->append(kUpperLevels[slot]);
      out->push_back('"');
      if (access_fields) {
        out->append(R"(,"status":)");
        AppendUint(out, static_cast<uint64_t>(line.status));
        out->append(R"(,"latency_ms":)");
        AppendUint(out, line.latency_ms);
      }
      out->push_back('}');
      break;
    }

    case kOriginHttp: {
      const std::string_view colon = svc.spaced ? "\": " : "\":";
      const std::string_view comma = svc.spaced ? ", \"" : ",\"";

      const auto append_ts = [&] {
        out->append(kTsKeys[svc.ts_key]);
        out->append(colon);
        result.timestamp_ns =
            AppendHttpTimestamp(out, svc.ts_shape, kZones[svc.zone], timestamp_ns);
      };
      const auto append_msg = [&] {
        out->append(kMsgKeys[svc.msg_key]);
        out->append(colon);
        out->push_back('"');
        JsonWriter::AppendEscaped(msg_, out);
        out->push_back('"');
      };

      out->append("{\"");
      if (svc.ts_first) {
        append_ts();
        out->append(comma);
      } else {
        append_msg();
        out->append(comma);
      }
      out->append(kLevelKeys[svc.level_key]);
      out->append(colon);
      if (svc.level_style == kPinoStyle) {
        out->append(kLevelStyles[kPinoStyle][slot]);
      } else {
        out->push_back('"');
        out->append(kLevelStyles[svc.level_style][slot]);
        out->push_back('"');
      }
      out->append(comma);
      if (svc.ts_first) {
        append_msg();
      } else {
        append_ts();
      }
      if (access_fields) {
        out->append(comma);
        out->append("status");
        out->append(colon);
        AppendUint(out, static_cast<uint64_t>(line.status));
        out->append(comma);
        out->append("latency_ms");
        out->append(colon);
        AppendUint(out, line.latency_ms);
      }
      out->append(comma);
      out->append("source");
      out->append(colon);
      out->append("{\"type");
      out->append(colon);
      out->append("\"http\"");
      out->append(comma);
      out->append("entity");
      out->append(colon);
      out->push_back('"');
      out->append(service_names_[si]);
      out->push_back('"');
      out->append(comma);
      out->append("entityInstance");
      out->append(colon);
      out->push_back('"');
      out->append(inst.name);
      out->append("\"}}");
      break;
    }
    default: break;
  }
  return result;
}

}  // namespace lode
