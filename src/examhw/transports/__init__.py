"""Transports used by drivers. These are the only modules that import
pyserial, pymodbus (client side), aiohttp (client side) and onvif-zeep-async."""
