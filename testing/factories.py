import factory

from core import secretbox

from merchants.models import ApiKey, Merchant


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Merchant {n}")
    email = factory.Sequence(lambda n: f"merchant{n}@example.com")


class ApiKeyFactory(factory.django.DjangoModelFactory):
    """`ApiKeyFactory(secret="...")` stores the secret encrypted, as the service does."""

    class Meta:
        model = ApiKey
        exclude = ["secret"]

    merchant = factory.SubFactory(MerchantFactory)
    mode = "test"
    key_id = factory.LazyAttributeSequence(lambda o, n: f"fk_{o.mode}_factory{n:016d}")
    secret = factory.Faker("password", length=40)
    secret_encrypted = factory.LazyAttribute(lambda o: secretbox.encrypt(o.secret))
