"""The destination check (app.webhooks.destinations): what a webhook may be sent to."""

from __future__ import annotations

import ipaddress

import pytest

from app.webhooks.destinations import DestinationRefused, check, parse_networks, refusal, split


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.1.2.3", "::1",                       # loopback
    "169.254.169.254", "169.254.170.2", "fe80::1",          # link-local, the metadata services in it
    "100.100.100.200", "fd00:ec2::254", "192.0.0.192",      # Alibaba Cloud, AWS IPv6, Oracle metadata
    "10.1.2.3", "172.16.0.1", "192.168.1.1", "fc00::1",     # private
    "100.64.0.1",                                           # shared address space (carrier NAT)
    "0.0.0.0", "::", "224.0.0.1", "255.255.255.255", "240.0.0.1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe",  # IPv4 inside IPv6
])
def test_special_addresses_are_refused(address):
    assert refusal(ipaddress.ip_address(address), ()) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "114.114.114.114", "2400:3200::1"])
def test_public_addresses_are_allowed(address):
    assert refusal(ipaddress.ip_address(address), ()) is None


def test_the_operators_allow_list_opens_exactly_its_networks():
    allowed = parse_networks("10.20.0.0/16, 127.0.0.1/32")
    assert refusal(ipaddress.ip_address("10.20.3.4"), allowed) is None
    assert refusal(ipaddress.ip_address("127.0.0.1"), allowed) is None
    assert refusal(ipaddress.ip_address("::ffff:10.20.3.4"), allowed) is None
    assert refusal(ipaddress.ip_address("10.21.0.1"), allowed) is not None
    assert refusal(ipaddress.ip_address("127.0.0.2"), allowed) is not None
    assert refusal(ipaddress.ip_address("169.254.169.254"), allowed) is not None
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        parse_networks("10.0.0.0/33")


@pytest.mark.parametrize(("url", "why"), [
    ("ftp://example.com/x", "http or https"),
    ("https:///x", "no host"),
    ("https://user:pw@example.com/x", "credentials"),
    ("https://example.com/x#frag", "fragment"),
    ("https://example.com:99999/x", "not a URL"),
    ("https://example.com/" + "x" * 2000, "longer"),
])
def test_urls_webhooks_cannot_have(url, why):
    with pytest.raises(DestinationRefused, match=why):
        split(url)


def test_a_name_is_judged_by_every_address_it_resolves_to():
    with pytest.raises(DestinationRefused, match="localhost resolves to .*loopback"):
        check("http://localhost:9/x", ())
    with pytest.raises(DestinationRefused, match="does not resolve"):
        check("https://no-such-host.invalid/x", ())


def test_the_delivery_connects_to_the_checked_address_with_the_name_kept():
    target = check("http://127.0.0.1:8123/hooks?a=1", parse_networks("127.0.0.1/32"))
    assert target.connect_url == "http://127.0.0.1:8123/hooks?a=1"
    assert target.host_header == "127.0.0.1:8123"
    v6 = check("https://[2400:3200::1]/x", ())
    assert v6.connect_url == "https://[2400:3200::1]:443/x"
    assert v6.host_header == "[2400:3200::1]"
