import session from 'cognito-session'
export const handler = async event => {
try {
const data = await session('token', event)
const { AccessToken } = data.cognito?.AuthenticationResult
const cookie = AccessToken ? { 'Set-Cookie': `token=${AccessToken}; HttpOnly;` } : {}
return {
statusCode: 200,
body: JSON.stringify({ message: 'Request successful' }),
headers: {
'Content-Type': 'application/json',
...cookie,
}
}
} catch (error) {
return {
statusCode: 401,
body: JSON.stringify({ error: 'Unauthorized' }),
headers: {
'Content-Type': 'application/json'
}
}
}
}
