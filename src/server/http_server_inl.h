// Template definitions for http_server.h.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <optional>

namespace lode {

template <typename Fn>
boost::asio::awaitable<std::invoke_result_t<Fn>> HttpServer::RunBlocking(Fn fn) {
  using R = std::invoke_result_t<Fn>;
  // Both live in this coroutine's frame, which outlives the suspension.
  std::optional<R> result;
  std::exception_ptr error;
  co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void()>(
      [this, &fn, &result, &error](auto handler) {
        auto ex = boost::asio::get_associated_executor(handler);
        boost::asio::post(workers_,
                          [&fn, &result, &error, ex, handler = std::move(handler)]() mutable {
                            try {
                              result.emplace(fn());
                            } catch (...) {
                              error = std::current_exception();
                            }
                            boost::asio::post(ex, std::move(handler));
                          });
      },
      boost::asio::use_awaitable);
  if (error) std::rethrow_exception(error);
  co_return std::move(*result);
}

}  // namespace lode
