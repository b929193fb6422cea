// A small [[nodiscard]] result type: either a value or an error.
//
// GCC 12 ships no std::expected, so this is the project's stand-in. It is
// deliberately tiny: construct from a value, or from Err(e); test with ok();
// take value() or error(). Taking the wrong side is a programming error and
// aborts with a message (it is never reachable from guest input, because
// callers test ok() first).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace vscsim {

// Wraps an error so that Result<T, E> can tell it from a value even when
// T and E are the same type.
template <class E>
struct Unexpected {
  E error;
};

template <class E>
[[nodiscard]] Unexpected<std::decay_t<E>> Err(E&& e) {
  return Unexpected<std::decay_t<E>>{std::forward<E>(e)};
}

namespace detail {
[[noreturn]] inline void result_bad_access(const char* what) {
  std::fprintf(stderr, "vscsim::Result: %s\n", what);
  std::abort();
}
template <class>
inline constexpr bool kIsUnexpected = false;
template <class E>
inline constexpr bool kIsUnexpected<Unexpected<E>> = true;
}  // namespace detail

template <class T, class E>
class [[nodiscard]] Result {
 public:
  using value_type = T;
  using error_type = E;

  template <class U = T>
    requires(std::is_constructible_v<T, U &&> &&
             !detail::kIsUnexpected<std::remove_cvref_t<U>> &&
             !std::is_same_v<std::remove_cvref_t<U>, Result>)
  Result(U&& v)  // NOLINT(google-explicit-constructor): a value is a success
      : v_(std::in_place_index<0>, std::forward<U>(v)) {}

  template <class G>
    requires std::is_constructible_v<E, G &&>
  Result(Unexpected<G> e)  // NOLINT(google-explicit-constructor)
      : v_(std::in_place_index<1>, std::move(e.error)) {}

  [[nodiscard]] bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(checked(true)); }
  const T& value() const& { return std::get<0>(checked(true)); }
  T&& value() && { return std::get<0>(std::move(checked(true))); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  E& error() & { return std::get<1>(checked(false)); }
  const E& error() const& { return std::get<1>(checked(false)); }
  E&& error() && { return std::get<1>(std::move(checked(false))); }

 private:
  std::variant<T, E>& checked(bool want_value) {
    if (ok() != want_value) {
      detail::result_bad_access(want_value ? "value() on an error" : "error() on a value");
    }
    return v_;
  }
  const std::variant<T, E>& checked(bool want_value) const {
    return const_cast<Result*>(this)->checked(want_value);
  }

  std::variant<T, E> v_;
};

// Success carries no value.
template <class E>
class [[nodiscard]] Result<void, E> {
 public:
  using value_type = void;
  using error_type = E;

  Result() = default;
  template <class G>
    requires std::is_constructible_v<E, G &&>
  Result(Unexpected<G> e)  // NOLINT(google-explicit-constructor)
      : err_(std::move(e.error)) {}

  [[nodiscard]] bool ok() const { return !err_.has_value(); }
  explicit operator bool() const { return ok(); }

  E& error() & {
    if (ok()) detail::result_bad_access("error() on a value");
    return *err_;
  }
  const E& error() const& {
    if (ok()) detail::result_bad_access("error() on a value");
    return *err_;
  }

 private:
  std::optional<E> err_;
};

// The success value of a Result<void, E>.
template <class E>
[[nodiscard]] Result<void, E> Ok() {
  return Result<void, E>();
}

}  // namespace vscsim
