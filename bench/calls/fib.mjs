// The call-heavy workload: recursive fib, 635k calls for fib(27).
export function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
