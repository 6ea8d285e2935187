#include "agent/sds_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <vector>

#include "agent/file_secrets.h"
#include "agent/sds_messages.h"
#include "common/grpc/framing.h"

namespace weft::agent {

namespace {

constexpr size_t kMaxSessions = 64;
constexpr uint32_t kMaxStreamsPerSession = 100;
constexpr uint32_t kMaxRequestBytes = 1024 * 1024;
constexpr const char* kStreamPath = "/envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets";
constexpr const char* kFetchPath = "/envoy.service.secret.v3.SecretDiscoveryService/FetchSecrets";
constexpr int kInvalidArgument = 3;
constexpr int kNotFound = 5;
constexpr int kUnimplemented = 12;

nghttp2_nv nv(const char* name, const std::string& value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name)),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), strlen(name), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

class SdsServer::Session : public net::ConnectionCallbacks {
 public:
  Session(SdsServer& server, std::unique_ptr<net::Connection> conn) : server_(server), conn_(std::move(conn)) {
    conn_->setCallbacks(this);
    nghttp2_session_callbacks* cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &Session::onBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &Session::onHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &Session::onFrameRecv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Session::onDataChunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Session::onStreamClose);
    nghttp2_session_server_new(&session_, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxStreamsPerSession}};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 1);
    flush();
  }
  ~Session() override {
    nghttp2_session_del(session_);
    conn_->setCallbacks(nullptr);
    conn_->close();
  }

  void onData(net::Connection& conn) override {
    Buffer& in = conn.input();
    ssize_t n = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(in.data()), in.size());
    in.clear();
    if (n < 0) return closeLater();
    flush();
  }
  void onEvent(net::Connection&, net::ConnectionEvent event) override {
    if (event == net::ConnectionEvent::Closed || event == net::ConnectionEvent::RemoteHalfClosed) closeLater();
  }

  // A new certificate: streams that asked for what changed get it.
  void push(bool root_changed) {
    for (auto& [id, s] : streams_) {
      if (s.ended || s.names.empty()) continue;
      if (s.names.count("default") || (root_changed && s.names.count("ROOTCA")) || !s.answered) respond(id, s);
    }
    flush();
  }

  // Files that changed on disk since they were sent go again.
  void checkFiles() {
    bool any = false;
    for (auto& [id, s] : streams_) {
      if (s.ended || s.files.empty()) continue;
      for (const auto& [name, fingerprint] : s.files) {
        if (fileSecretFingerprint(name) != fingerprint) {
          respond(id, s);
          any = true;
          break;
        }
      }
    }
    if (any) flush();
  }

 private:
  struct Stream {
    std::string path;
    Buffer incoming;
    std::string outgoing;
    std::set<std::string> names;
    std::map<std::string, std::string> files;  // file secrets sent, with their fingerprints
    std::string nonce;
    bool answered = false;
    bool ended = false;  // trailers queued
    int status = 0;
    std::string message;
  };

  static Session* self(void* user) { return static_cast<Session*>(user); }

  static int onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
      self(user)->streams_[frame->hd.stream_id];
    return 0;
  }
  static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    auto it = self(user)->streams_.find(frame->hd.stream_id);
    if (it != self(user)->streams_.end() && std::string_view(reinterpret_cast<const char*>(name), namelen) == ":path")
      it->second.path.assign(reinterpret_cast<const char*>(value), valuelen);
    return 0;
  }
  static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto* s = self(user);
    auto it = s->streams_.find(frame->hd.stream_id);
    if (it == s->streams_.end()) return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
      s->begin(it->first, it->second);
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && !it->second.ended) {
      // The client is done sending: a fetch is answered now; a stream simply ends.
      if (it->second.path == kFetchPath && !it->second.answered && !it->second.names.empty()) return 0;
      s->finish(it->first, it->second, 0, "");
    }
    return 0;
  }
  static int onDataChunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* user) {
    auto* s = self(user);
    auto it = s->streams_.find(id);
    if (it == s->streams_.end() || it->second.ended) return 0;
    it->second.incoming.append(std::string_view(reinterpret_cast<const char*>(data), len));
    s->deliver(id, it->second);
    return 0;
  }
  static int onStreamClose(nghttp2_session*, int32_t id, uint32_t, void* user) {
    self(user)->streams_.erase(id);
    return 0;
  }
  static ssize_t readBody(nghttp2_session* session, int32_t id, uint8_t* buf, size_t length, uint32_t* flags,
                          nghttp2_data_source*, void* user) {
    auto* s = self(user);
    auto it = s->streams_.find(id);
    if (it == s->streams_.end()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    Stream& st = it->second;
    size_t n = std::min(length, st.outgoing.size());
    memcpy(buf, st.outgoing.data(), n);
    st.outgoing.erase(0, n);
    if (st.outgoing.empty()) {
      if (!st.ended) return n > 0 ? static_cast<ssize_t>(n) : static_cast<ssize_t>(NGHTTP2_ERR_DEFERRED);
      *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
      std::string status = std::to_string(st.status);
      std::vector<nghttp2_nv> trailers = {nv("grpc-status", status)};
      if (!st.message.empty()) trailers.push_back(nv("grpc-message", st.message));
      nghttp2_submit_trailer(session, id, trailers.data(), trailers.size());
    }
    return static_cast<ssize_t>(n);
  }

  void begin(int32_t id, Stream& st) {
    std::string status = "200", ct = "application/grpc";
    nghttp2_nv headers[] = {nv(":status", status), nv("content-type", ct)};
    nghttp2_data_provider provider;
    provider.source.ptr = nullptr;
    provider.read_callback = &Session::readBody;
    nghttp2_submit_response(session_, id, headers, 2, &provider);
    if (st.path != kStreamPath && st.path != kFetchPath)
      finish(id, st, kUnimplemented, "weft-agent serves only envoy.service.secret.v3.SecretDiscoveryService");
    else
      server_.metrics_.streams++;
  }

  void deliver(int32_t id, Stream& st) {
    while (!st.ended) {
      std::string_view message;
      size_t consumed = 0;
      auto f = grpc::nextFrame(std::string_view(st.incoming.data(), st.incoming.size()), kMaxRequestBytes, message,
                               consumed);
      if (f == grpc::Frame::Incomplete) return;
      if (f == grpc::Frame::Malformed)
        return finish(id, st, kInvalidArgument, "compressed or over-long (>1 MiB) gRPC message");
      auto req = decodeDiscoveryRequest(message);
      st.incoming.drain(consumed);
      if (!req) return finish(id, st, kInvalidArgument, "the request is not a DiscoveryRequest");
      handle(id, st, *req);
    }
  }

  void handle(int32_t id, Stream& st, const DiscoveryRequestView& req) {
    if (!req.type_url.empty() && req.type_url != kSecretTypeUrl)
      return finish(id, st, kInvalidArgument, "type_url '" + req.type_url + "' is not " + kSecretTypeUrl);
    if (req.has_error_detail) {
      server_.metrics_.nacks++;
      server_.log_("the proxy rejected secret version " + req.version_info + ": " + req.error_message);
    }
    std::set<std::string> names(req.resource_names.begin(), req.resource_names.end());
    for (const auto& n : names)
      if (n != "default" && n != "ROOTCA" && !isFileSecretName(n))
        return finish(id, st, kInvalidArgument,
                      "unknown secret '" + n +
                          "': weft-agent serves 'default', 'ROOTCA', 'file-cert:CERT~KEY' and 'file-root:CA'");
    if (names.empty()) return finish(id, st, kInvalidArgument, "the request names no secret");
    bool changed = names != st.names;
    st.names = std::move(names);
    // An ACK or NACK of what we sent needs no answer; a new subscription does.
    if (changed || !st.answered) respond(id, st);
  }

  // Whether `names` needs the workload certificate (which the first request waits for).
  static bool needsWorkloadCertificate(const std::set<std::string>& names) {
    return names.count("default") || names.count("ROOTCA");
  }

  void respond(int32_t id, Stream& st) {
    const WorkloadCertificate* c = server_.secrets_.current();
    if (!c && needsWorkloadCertificate(st.names)) return;
    std::vector<SecretValue> secrets;
    std::map<std::string, std::string> files;
    std::string file_version;
    for (const auto& n : st.names) {
      if (isFileSecretName(n)) {
        std::string error;
        auto f = readFileSecret(n, error);
        if (!f) {
          server_.metrics_.file_errors++;
          return finish(id, st, kNotFound, "secret '" + n + "': " + error);
        }
        files[n] = f->fingerprint;
        file_version += f->fingerprint;
        secrets.push_back(std::move(f->value));
        continue;
      }
      SecretValue v;
      v.name = n;
      if (n == "default") {
        v.certificate_chain = c->chain_pem;
        v.private_key = c->key_pem;
      } else {
        v.trusted_ca = c->root_pem;
      }
      secrets.push_back(std::move(v));
    }
    st.files = std::move(files);
    std::string version = c && needsWorkloadCertificate(st.names) ? std::to_string(c->generation) : "0";
    if (!file_version.empty()) version += "-" + std::to_string(std::hash<std::string>{}(file_version));
    st.nonce = std::to_string(++nonce_);
    std::string body = encodeDiscoveryResponse(version, secrets, st.nonce);
    st.outgoing += grpc::framePrefix(body.size()) + body;
    st.answered = true;
    server_.metrics_.pushes++;
    if (st.path == kFetchPath) st.ended = true;  // unary: one answer, then OK
    nghttp2_session_resume_data(session_, id);
  }

  void finish(int32_t id, Stream& st, int status, const std::string& message) {
    if (st.ended) return;
    if (status != 0) server_.log_("SDS stream refused: " + message);
    st.ended = true;
    st.status = status;
    st.message = message;
    nghttp2_session_resume_data(session_, id);
  }

  void flush() {
    const uint8_t* data;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(session_, &data)) > 0)
      conn_->output().append(std::string_view(reinterpret_cast<const char*>(data), static_cast<size_t>(n)));
    conn_->flush();
    if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) closeLater();
  }

  void closeLater() {
    if (closing_) return;
    closing_ = true;
    server_.reactor_.post([srv = &server_, me = this] { srv->sessions_.erase(me); });
  }

  SdsServer& server_;
  std::unique_ptr<net::Connection> conn_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, Stream> streams_;
  uint64_t nonce_ = 0;
  bool closing_ = false;
};

SdsServer::SdsServer(event::Reactor& reactor, const std::string& path, WorkloadSecrets& secrets, int uid, int gid,
                     std::function<void(const std::string&)> log)
    : reactor_(reactor), path_(path), secrets_(secrets), log_(std::move(log)) {
  auto addr = net::Address::unixPath(path);
  if (!addr) throw std::runtime_error("SDS socket path '" + path + "' is empty or too long");
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  ::unlink(path.c_str());
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0 || ::bind(fd_, addr->sockaddr_ptr(), addr->length) != 0 || ::chmod(path.c_str(), 0600) != 0 ||
      (uid >= 0 && ::chown(path.c_str(), static_cast<uid_t>(uid), static_cast<gid_t>(gid)) != 0) ||
      ::listen(fd_, 16) != 0) {
    std::string err = strerror(errno);
    if (fd_ >= 0) ::close(fd_);
    throw std::runtime_error("cannot serve SDS on " + path + ": " + err);
  }
  reactor_.add(fd_, this);
  secrets_.onChange([this] { pushAll(); });
  file_watch_ = std::make_unique<event::Timer>(reactor_, [this] {
    for (auto& [key, session] : sessions_) session->checkFiles();
    file_watch_->arm(kFileWatchInterval);
  });
  file_watch_->arm(kFileWatchInterval);
}

SdsServer::~SdsServer() {
  sessions_.clear();
  reactor_.remove(fd_);
  ::close(fd_);
  ::unlink(path_.c_str());
}

void SdsServer::onIoEvent(uint32_t) {
  for (;;) {
    int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (sessions_.size() >= kMaxSessions) {
      ::close(fd);
      log_("SDS: refused a connection: already " + std::to_string(kMaxSessions) + " open");
      continue;
    }
    auto local = *net::Address::unixPath(path_);
    auto conn = net::Connection::adopt(reactor_, fd, local, local);
    auto session = std::make_unique<Session>(*this, std::move(conn));
    Session* key = session.get();
    sessions_.emplace(key, std::move(session));
  }
}

void SdsServer::pushAll() {
  const WorkloadCertificate* c = secrets_.current();
  bool root_changed = c && c->root_pem != last_root_;
  if (c) last_root_ = c->root_pem;
  for (auto& [key, session] : sessions_) session->push(root_changed);
}

}  // namespace weft::agent
