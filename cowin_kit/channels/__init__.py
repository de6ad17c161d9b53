"""Feature-phone channels: USSD menus and SMS keywords, doors onto the same services as
the web pages and the API (docs/channels.md). Gateway adapters are plugins'
``ChannelGateway`` objects (cowin_kit.plugins); one for the common callback shape
(``sessionId, serviceCode, phoneNumber, networkCode, text``) is built in as ``at``."""
