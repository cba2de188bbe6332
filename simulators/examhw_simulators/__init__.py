"""examhw's built-in simulators, one package per device kind. Each is a
device model + a protocol codec (written from docs/protocols, never
imported from a driver) + an endpoint on a real transport."""
